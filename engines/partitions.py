"""Partitioned Parquet datasets (``<root>/site=<site>/year_month=<YYYY-MM>/``) that a killed job cannot leave
half-written.

Each partition is written whole into a staging folder beside it (``<root>/.staging-<id>/``), gets a
``_SUCCESS`` marker there, and only then is renamed into place (an existing partition is first renamed
aside, then removed). A rename within one file system is atomic, so a reader that takes only partitions
with the marker (:func:`complete_partitions`) never sees a partition that is half there; a job killed at
any point leaves whole partitions, the old version of a partition, or none, plus a staging folder that the
next write removes. Both engines use it: polars writes the staged partitions itself, Spark writes them with
``partitionBy`` into the staging folder and the driver commits them one by one (``engines.spark_io``).
One writer per dataset at a time. On object stores without rename (S3) see docs/SPARK.md.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

import polars as pl

MARKER = "_SUCCESS"
STAGING_PREFIX = ".staging-"
SITE, MONTH = "site", "year_month"  # not "month": the panel has a month-of-year feature of that name


def month_expr(column: str) -> pl.Expr:
    """``YYYY-MM`` of a date or datetime column: the month partition of a row."""
    return pl.col(column).dt.strftime("%Y-%m").alias(MONTH)


def partition_path(root: Path, site: str, month: str) -> Path:
    return Path(root) / f"{SITE}={site}" / f"{MONTH}={month}"


def new_staging(root: Path) -> Path:
    """A fresh staging folder under ``root``; stale ones (from killed writes) are removed first."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = root / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    staging.mkdir()
    return staging


def commit_partition(staged: Path, final: Path) -> None:
    """Mark ``staged`` complete, then move it to ``final`` (replacing what was there)."""
    (staged / MARKER).touch()
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.parent / f".old-{final.name}-{uuid.uuid4().hex}"
    if final.exists():
        final.rename(old)
    staged.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def commit_staging(staging: Path, root: Path) -> list[Path]:
    """Commit every ``site=*/year_month=*`` folder of ``staging`` into ``root``; then remove ``staging``."""
    committed = []
    for staged in sorted(staging.glob(f"{SITE}=*/{MONTH}=*")):
        final = Path(root) / staged.parent.name / staged.name
        commit_partition(staged, final)
        committed.append(final)
    shutil.rmtree(staging, ignore_errors=True)
    return committed


def check_no_clash(columns: Iterable[str]) -> None:
    """Refuse data columns named like a partition key: a reader would take the folder's value for them."""
    clash = sorted({SITE, MONTH} & set(columns))
    if clash:
        raise ValueError(f"columns {clash} would be replaced by the partition keys; rename them")


def write_partitioned(frame: pl.DataFrame, root: Path, site: str, date_column: str) -> list[Path]:
    """Write ``frame`` as ``root/site=<site>/year_month=<month of date_column>/part-0.parquet``, partition by
    partition (each replaces the old one whole). Returns the committed partition folders."""
    check_no_clash(frame.columns)
    staging = new_staging(root)
    with_month = frame.with_columns(month_expr(date_column))
    for (month,), rows in with_month.partition_by(MONTH, as_dict=True, maintain_order=True).items():
        staged = partition_path(staging, site, month)
        staged.mkdir(parents=True)
        rows.drop(MONTH).write_parquet(staged / "part-0.parquet")
    return commit_staging(staging, root)


def complete_partitions(
    root: Path, sites: Iterable[str] | None = None, months: Iterable[str] | None = None
) -> list[Path]:
    """The partition folders under ``root`` that carry the marker, optionally only these sites/months."""
    wanted_sites = None if sites is None else set(sites)
    wanted_months = None if months is None else set(months)
    found = []
    for folder in sorted(Path(root).glob(f"{SITE}=*/{MONTH}=*")):
        site, month = folder.parent.name.split("=", 1)[1], folder.name.split("=", 1)[1]
        if wanted_sites is not None and site not in wanted_sites:
            continue
        if wanted_months is not None and month not in wanted_months:
            continue
        if (folder / MARKER).is_file():
            found.append(folder)
    return found


def read_partitioned(
    root: Path, sites: Iterable[str] | None = None, months: Iterable[str] | None = None
) -> pl.DataFrame:
    """The complete partitions' rows with their ``site`` and ``month`` columns (none: an empty frame)."""
    frames = [
        pl.read_parquet(folder / "*.parquet").with_columns(
            pl.lit(folder.parent.name.split("=", 1)[1]).alias(SITE),
            pl.lit(folder.name.split("=", 1)[1]).alias(MONTH),
        )
        for folder in complete_partitions(root, sites, months)
    ]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
