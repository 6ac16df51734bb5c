"""The Spark session the Spark engine runs in.

Under ``spark-submit`` (a cluster) the session already exists and is used as it is. Otherwise a local one is
started: ``local[2]`` by default, Arrow transfers on, UTC session time (event times are naive local times:
Spark must never shift them), and a driver memory that keeps the whole JVM inside a budget and makes
shuffles spill to disk instead of failing (docs/SPARK.md).
"""

from __future__ import annotations

import os
import sys

DEFAULT_MASTER = "local[2]"
DEFAULT_DRIVER_MEMORY = "4g"


def spark_available() -> str:
    """ "" when PySpark and a Java runtime are there, else why not (tests skip with it)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[spark]')"
    import shutil

    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "no Java runtime (apt-get install openjdk-17-jre-headless)"
    return ""


def get_spark(
    master: str | None = None,
    driver_memory: str = DEFAULT_DRIVER_MEMORY,
    shuffle_partitions: int = 8,
    local_dir: str | None = None,
    app_name: str = "gridsense",
):
    """The active session, else a new local one (``master`` default ``local[2]``)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors use this interpreter (the venv)
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master or DEFAULT_MASTER)
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "20000")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.adaptive.enabled", "true")
    )
    if local_dir:
        builder = builder.config("spark.local.dir", local_dir)
    return builder.getOrCreate()
