"""Held-out splits for the text benchmark: ``id, title, text, label`` CSVs, written outside the repo.

- :func:`grouped_stratified_split`: a deterministic stratified split where reports with the same body
  text (or the same title when there is no body) always land on the same side, so a near-duplicate
  cannot leak the answer from train to test. Used for the public tipdm messages.
- :func:`demo_city_split`: a small demo city, split by time (the latest reports are the test set).
- :func:`text_dataset_split`: a text training set built by ``gridsense build-features`` (e.g. the demo's
  ``datasets/demo/features/text.parquet``): its own time split, train + valid -> train, test -> test.

Default output folder: ``.cache/gridsense/benchmarks/<name>/`` (git-ignored). Real data must never be
copied into the repository; these files are derived row by row, so they stay in the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from core.home import project_root
from features.text_dataset import holdout, text_group_key

BENCHMARK_COLUMNS: tuple[str, ...] = ("id", "title", "text", "label")


@dataclass(frozen=True)
class SplitFiles:
    train: Path
    test: Path
    train_rows: int
    test_rows: int
    unlabelled_rows: int = 0


def default_split_dir(name: str) -> Path:
    """Under the GridSense home (GRIDSENSE_HOME), wherever the package is installed."""
    return project_root() / ".cache" / "gridsense" / "benchmarks" / name


def grouped_stratified_split(
    frame: pl.DataFrame, test_share: float = 0.2, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, test): about ``test_share`` of each label in test, identical texts never on both sides."""
    if not 0 < test_share < 1:
        raise ValueError("test_share must be between 0 and 1")
    groups = frame.select(text_group_key("title")).to_series().to_numpy()
    labels = frame.get_column("label").to_numpy()
    everyone = np.arange(frame.height)
    test_rows = holdout(everyone, labels, groups, test_share, seed)  # the rule the text training set uses
    return frame[np.setdiff1d(everyone, test_rows)], frame[test_rows]


def split_csv(
    source: Path,
    out_dir: Path | None = None,
    test_share: float = 0.2,
    seed: int = 0,
    label_column: str = "label",
) -> SplitFiles:
    """Split a labelled ``id, title, text, <label_column>`` CSV (extra columns dropped) into train/test
    CSVs with a ``label`` column. Rows without a label are left out (counted in ``unlabelled_rows``)."""
    from features.files import read_csv_text, require_columns

    raw = read_csv_text(source, "labelled CSV")
    require_columns(raw, [label_column], f"labelled CSV {source}")
    frame = raw.with_columns(pl.col(label_column).str.strip_chars().alias("label")).select(BENCHMARK_COLUMNS)
    labelled = frame.filter(pl.col("label").is_not_null() & (pl.col("label") != ""))
    train, test = grouped_stratified_split(labelled, test_share, seed)
    name = Path(source).parent.name + ("" if label_column == "label" else f"-{label_column}")
    files = _write(train, test, out_dir or default_split_dir(name))
    return replace(files, unlabelled_rows=frame.height - labelled.height)


def demo_city_split(
    out_dir: Path | None = None, n_grids: int = 60, weeks: int = 52, seed: int = 7, test_share: float = 0.2
) -> SplitFiles:
    """Generate a small demo city and split its labelled reports by time (label = taxonomy leaf id)."""
    import tempfile

    from demo_city import generate_demo_city
    from features.taxonomy import load_taxonomy

    with tempfile.TemporaryDirectory() as tmp:
        city = generate_demo_city(Path(tmp), seed=seed, n_grids=n_grids, weeks=weeks, start=date(2024, 1, 1))
        events = pl.read_parquet(city.events_path)
    frame = _labelled_demo_reports(events, load_taxonomy())
    cut = frame.height - round(frame.height * test_share)
    return _write(frame[:cut], frame[cut:], out_dir or default_split_dir("demo_city"))


def text_dataset_split(path: Path, out_dir: Path | None = None) -> SplitFiles:
    """Benchmark CSVs from a ``features.text_dataset`` parquet file, keeping its time split."""
    frame = pl.read_parquet(path).select(
        pl.col("event_id").alias("id"),
        pl.lit("").alias("title"),
        "text",
        pl.col("leaf_id").alias("label"),
        "split",
    )
    train = frame.filter(pl.col("split") != "test").drop("split")
    test = frame.filter(pl.col("split") == "test").drop("split")
    return _write(train, test, out_dir or default_split_dir(Path(path).parent.parent.name))


def _labelled_demo_reports(events: pl.DataFrame, taxonomy) -> pl.DataFrame:
    leaves = pl.DataFrame(taxonomy.to_records()).select(
        pl.col("category_l1"), pl.col("category_l2"), pl.col("category_l3"), pl.col("leaf_id").alias("label")
    )
    return (
        events.sort("reported_at", "event_id")
        .join(leaves, on=["category_l1", "category_l2", "category_l3"], how="inner", maintain_order="left")
        .select(pl.col("event_id").alias("id"), "title", "text", "label")
    )


def _write(train: pl.DataFrame, test: pl.DataFrame, out_dir: Path) -> SplitFiles:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = out_dir / "train.csv", out_dir / "test.csv"
    train.write_csv(paths[0])
    test.write_csv(paths[1])
    return SplitFiles(paths[0], paths[1], train.height, test.height)
