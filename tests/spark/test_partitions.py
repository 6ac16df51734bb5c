"""Partitioned Parquet (site, month): what is read is whole partitions only, whatever point a writer was
killed at, and a restarted write completes the dataset."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import engines.partitions as partitions
from engines.partitions import MARKER, complete_partitions, read_partitioned, write_partitioned


def rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "grid_id": ["a", "b", "a", "b", "a"],
            "week_start": [
                date(2024, 1, 1),
                date(2024, 1, 8),
                date(2024, 2, 5),
                date(2024, 3, 4),
                date(2024, 3, 11),
            ],
            "value": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )


def test_written_partitions_read_back_by_site_and_month(tmp_path):
    written = write_partitioned(rows(), tmp_path / "panel", "demo", "week_start")
    assert [p.name for p in written] == ["year_month=2024-01", "year_month=2024-02", "year_month=2024-03"]
    back = read_partitioned(tmp_path / "panel").sort("week_start")
    assert_frame_equal(back.drop("site", "year_month"), rows())
    march = read_partitioned(tmp_path / "panel", sites=["demo"], months=["2024-03"])
    assert march["value"].to_list() == [4.0, 5.0]


def test_a_column_named_like_a_partition_key_is_refused(tmp_path):
    with pytest.raises(ValueError, match="year_month"):
        write_partitioned(rows().with_columns(year_month=pl.lit(1)), tmp_path / "panel", "demo", "week_start")


def fail_on_second_commit(monkeypatch):
    real, calls = partitions.commit_partition, []

    def commit(staged, final):
        calls.append(final)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")  # the job dies between two partitions
        real(staged, final)

    monkeypatch.setattr(partitions, "commit_partition", commit)


def test_a_killed_write_leaves_only_whole_partitions_and_a_rerun_completes(tmp_path, monkeypatch):
    root = tmp_path / "panel"
    with monkeypatch.context() as patch:
        fail_on_second_commit(patch)
        with pytest.raises(KeyboardInterrupt):
            write_partitioned(rows(), root, "demo", "week_start")
    assert [p.name for p in complete_partitions(root)] == ["year_month=2024-01"]
    assert list(root.glob(".staging-*")), "the killed write's staging is left behind"
    half = root / "site=demo" / "year_month=2024-04"  # a folder some other crash left without its marker
    half.mkdir(parents=True)
    rows().head(1).write_parquet(half / "part-0.parquet")
    assert read_partitioned(root)["value"].to_list() == [1.0, 2.0]  # January only
    write_partitioned(rows(), root, "demo", "week_start")
    assert sorted(read_partitioned(root)["value"].to_list()) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert not list(root.glob(".staging-*"))
    assert all((p / MARKER).is_file() for p in complete_partitions(root))


def test_spark_writes_the_same_partitions_with_the_same_commit_rule(spark, tmp_path, monkeypatch):
    from engines.arrow import spark_arrow
    from engines.spark_io import read_partitioned as read_on_spark
    from engines.spark_io import write_partitioned as write_on_spark

    frame = spark.createDataFrame(spark_arrow(rows()))
    root = tmp_path / "panel"
    with monkeypatch.context() as patch:
        fail_on_second_commit(patch)
        with pytest.raises(KeyboardInterrupt):
            write_on_spark(frame, root, "demo", "week_start")
    assert [p.name for p in complete_partitions(root)] == ["year_month=2024-01"]
    assert read_on_spark(spark, root).count() == 2
    write_on_spark(frame, root, "demo", "week_start")
    back = pl.from_arrow(read_on_spark(spark, root).toArrow()).sort("week_start")
    assert_frame_equal(back.select(rows().columns), rows())
    assert back["year_month"].to_list() == ["2024-01", "2024-01", "2024-02", "2024-03", "2024-03"]


def test_a_spark_job_failing_during_its_write_leaves_the_old_partitions_whole(spark, tmp_path):
    from engines.arrow import spark_arrow
    from engines.spark_io import read_partitioned as read_on_spark
    from engines.spark_io import write_partitioned as write_on_spark

    root = tmp_path / "panel"
    write_on_spark(spark.createDataFrame(spark_arrow(rows())), root, "demo", "week_start")
    doubled = rows().with_columns(pl.col("value") * 2)
    new = spark.createDataFrame(spark_arrow(doubled)).repartition(2)

    def dies_on_the_last_row(batches):
        for batch in batches:
            if 10.0 in batch.column("value").to_pylist():  # one task dies after others wrote files
                raise RuntimeError("executor killed")
            yield batch

    with pytest.raises(Exception, match="executor killed"):
        write_on_spark(new.mapInArrow(dies_on_the_last_row, new.schema), root, "demo", "week_start")
    back = pl.from_arrow(read_on_spark(spark, root).toArrow()).sort("week_start")
    assert back["value"].to_list() == rows()["value"].to_list()  # the old dataset, whole, nothing new
    write_on_spark(new, root, "demo", "week_start")  # the rerun
    back = pl.from_arrow(read_on_spark(spark, root).toArrow()).sort("week_start")
    assert back["value"].to_list() == doubled["value"].to_list()
    assert not list(root.glob(".staging-*"))
