"""The Spark session the Spark engine runs in.

Under ``spark-submit`` (a cluster) the session already exists and is used as it is. Otherwise a local one is
started: ``local[2]`` by default, Arrow transfers on, UTC session time (event times are naive local times:
Spark must never shift them), and a driver memory that keeps the whole JVM inside a budget and makes
shuffles spill to disk instead of failing (docs/SPARK.md).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

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


def require_spark() -> None:
    """A :class:`core.errors.GridSenseUserError` (one line on the CLI) when Spark cannot start here."""
    missing = spark_available()
    if missing:
        from core.errors import GridSenseUserError

        raise GridSenseUserError(f"the Spark engine cannot run: {missing}", "or use --engine polars")


def get_spark(
    master: str | None = None,
    driver_memory: str = DEFAULT_DRIVER_MEMORY,
    shuffle_partitions: int = 8,
    local_dir: str | None = None,
    app_name: str = "gridsense",
    event_log_dir: str | None = None,
):
    """The active session, else a new local one (``master`` default ``local[2]``). ``event_log_dir``:
    keep Spark's event log there (every task's metrics, spills included: :func:`spill_totals`). Without
    PySpark or Java: a one-line user error saying what to install."""
    require_spark()
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
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "true")
    )
    if local_dir:
        builder = builder.config("spark.local.dir", local_dir)
    if event_log_dir:
        Path(event_log_dir).mkdir(parents=True, exist_ok=True)
        builder = (
            builder.config("spark.eventLog.enabled", "true")
            .config("spark.eventLog.dir", Path(event_log_dir).resolve().as_uri())
            .config("spark.eventLog.compress", "false")  # one JSON line per event, read by spill_totals
            .config("spark.eventLog.rolling.enabled", "false")
        )
    return builder.getOrCreate()


SPILL_METRICS = {
    "memory_bytes_spilled": "Memory Bytes Spilled",  # in-memory size of what was spilled
    "disk_bytes_spilled": "Disk Bytes Spilled",  # its size on disk
}
SHUFFLE_WRITE = ("Shuffle Write Metrics", "Shuffle Bytes Written")


def spill_totals(event_log_dir: str | Path) -> dict[str, int]:
    """Task metrics summed over every finished task of the event logs in ``event_log_dir``: bytes
    spilled (memory and disk sizes), shuffle bytes written to local disk, tasks, and tasks that spilled."""
    totals = dict.fromkeys([*SPILL_METRICS, "shuffle_bytes_written", "tasks", "tasks_spilling"], 0)
    for log in sorted(Path(event_log_dir).iterdir()):
        with open(log, encoding="utf-8") as lines:
            for line in lines:
                if '"SparkListenerTaskEnd"' not in line:
                    continue
                metrics = json.loads(line).get("Task Metrics") or {}
                totals["tasks"] += 1
                for key, name in SPILL_METRICS.items():
                    totals[key] += int(metrics.get(name, 0))
                totals["tasks_spilling"] += int(metrics.get(SPILL_METRICS["disk_bytes_spilled"], 0) > 0)
                totals["shuffle_bytes_written"] += int(
                    metrics.get(SHUFFLE_WRITE[0], {}).get(SHUFFLE_WRITE[1], 0)
                )
    return totals
