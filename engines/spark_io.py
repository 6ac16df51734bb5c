"""Partitioned Parquet in and out on Spark, with the commit rule of ``engines.partitions``: Spark writes
a job's partitions (``partitionBy("site", "month")``) into a staging folder; only when the job has finished
does the driver move them into place one by one, each with its ``_SUCCESS`` marker. Readers take only
marked partitions, so a cluster reads just the sites and months a job needs and never half a partition."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from engines.partitions import MONTH, SITE, check_no_clash, commit_staging, complete_partitions, new_staging


def write_partitioned(frame, root: Path, site: str, date_column: str) -> list[Path]:
    """Write a Spark frame as ``root/site=<site>/year_month=<YYYY-MM of date_column>/``; returns the
    partitions."""
    from pyspark.sql import functions as F

    check_no_clash(frame.columns)
    staging = new_staging(Path(root))
    (
        frame.withColumn(SITE, F.lit(site))
        .withColumn(MONTH, F.date_format(F.col(date_column), "yyyy-MM"))
        .write.mode("overwrite")
        .partitionBy(SITE, MONTH)
        .parquet(str(staging / "data"))
    )
    committed = commit_staging(staging / "data", Path(root))
    shutil.rmtree(staging, ignore_errors=True)  # the staging folder around Spark's output folder
    return committed


def read_partitioned(
    spark, root: Path, sites: Iterable[str] | None = None, months: Iterable[str] | None = None
):
    """The complete partitions as one Spark frame with ``site`` and ``month`` columns."""
    paths = [str(folder) for folder in complete_partitions(Path(root), sites, months)]
    if not paths:
        raise FileNotFoundError(f"{root}: no complete partitions")
    return spark.read.option("basePath", str(root)).parquet(*paths)
