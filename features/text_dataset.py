"""The text classifier's training set: labelled events, prepared text, and a train/valid/test split.

Two splits, chosen by :func:`choose_split_method` from the data (recorded in the ``split_method`` column
and, by the trainer, in the MLflow params):

- ``time`` when at least ``TIME_SPLIT_MIN_DATED`` of the rows have a ``reported_at``. It imitates
  deployment: a model trained on the past classifies later reports. Rows are ordered by ``reported_at``;
  the latest ``test_share`` form the test set and the ``valid_share`` before them the validation set. The
  cuts are timestamps, so every test report is at least as late as every valid report, and every valid
  report strictly later than every train report (reports sharing the cut time go to the later split,
  which can make it slightly larger than its share). Undated rows, if any, go to train.
- ``grouped_stratified`` otherwise (labelled CSVs without dates, or with sparse ones): a seeded random
  split, stratified by label, where reports with the same normalised body text (the title when there is
  no body) are one group, so a duplicate never sits on both sides of a cut.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from core.errors import DataFileError
from features.text import normalize_text_expr, prepare_text_expr

SPLITS: tuple[str, ...] = ("train", "valid", "test")
TIME_SPLIT, GROUPED_SPLIT = "time", "grouped_stratified"
# The time split needs dates on (nearly) every row; below this share of dated rows the split is random.
TIME_SPLIT_MIN_DATED = 0.8
SPLIT_METHOD_COLUMN = "split_method"  # always written; older sets without it were split by time
TEXT_DATASET_COLUMNS: tuple[str, ...] = (
    "event_id",
    "reported_at",
    "text",
    "leaf_id",
    "category_l1",
    "category_l2",
    "category_l3",
    "risk_group",
    "split",
)
# Carried through when the log has them: provenance that evaluation can slice by (demo texts' templates).
OPTIONAL_COLUMNS: tuple[str, ...] = ("template_id", "secondary_leaf_id")
_GROUP = "__group"


def build_text_dataset(
    events: pl.DataFrame, valid_share: float = 0.15, test_share: float = 0.15, seed: int = 0
) -> pl.DataFrame:
    """Labelled rows of a loaded log (``features.events`` or ``features.labelled_text``) as model-ready
    rows with a ``split``; ``seed`` drives the grouped split only (the time split has no randomness)."""
    _check_shares(valid_share, test_share)
    title = "title" if "title" in events.columns else None
    if "text" not in events.columns:  # a log without report texts (e.g. crime records)
        events = events.with_columns(pl.lit(None, dtype=pl.String).alias("text"))
    if "invalid_reason" in events.columns:  # invalid reports (tests, ads ...) teach no leaf
        events = events.filter(pl.col("invalid_reason").is_null() | (pl.col("invalid_reason") == ""))
    if "incident_id" in events.columns:
        events = first_report_of_each_incident(events)
    labelled = (
        events.filter(pl.col("leaf_id").is_not_null())
        .with_columns(text_group_key(title).alias(_GROUP), prepare_text_expr(title, "text").alias("text"))
        .filter(pl.col("text").is_not_null() & (pl.col("text") != ""))  # nothing to learn from
    )
    if labelled.is_empty():
        return _empty_text_dataset()
    method = choose_split_method(labelled)
    if method == TIME_SPLIT:
        split = _time_split(labelled, valid_share, test_share)
    else:
        split = _grouped_split(labelled, valid_share, test_share, seed)
    extra = [column for column in OPTIONAL_COLUMNS if column in labelled.columns]
    return split.with_columns(pl.lit(method).alias(SPLIT_METHOD_COLUMN)).select(
        *TEXT_DATASET_COLUMNS, SPLIT_METHOD_COLUMN, *extra
    )


def first_report_of_each_incident(events: pl.DataFrame) -> pl.DataFrame:
    """One row per incident when the log says which reports repeat one (``incident_id``): a repeat is
    another wording of a report already labelled, which would land in both sides of a split and flatter
    the test figures (and nearly double the demo's training time). Rows without an id are kept."""
    order = [column for column in ("reported_at", "event_id") if column in events.columns]
    position = pl.int_range(pl.len()).over("incident_id", order_by=order)
    return events.filter(pl.col("incident_id").is_null() | (position == 0))


def _empty_text_dataset() -> pl.DataFrame:
    schema = {column: pl.String for column in TEXT_DATASET_COLUMNS} | {SPLIT_METHOD_COLUMN: pl.String}
    return pl.DataFrame(schema=schema)


def choose_split_method(rows: pl.DataFrame) -> str:
    """``time`` when at least ``TIME_SPLIT_MIN_DATED`` of the rows are dated, else ``grouped_stratified``."""
    if rows.is_empty():
        return TIME_SPLIT
    dated = 1 - rows.get_column("reported_at").null_count() / rows.height
    return TIME_SPLIT if dated >= TIME_SPLIT_MIN_DATED else GROUPED_SPLIT


def split_method(dataset: pl.DataFrame) -> str:
    """How a text training set was split (sets built before the column existed were split by time)."""
    if SPLIT_METHOD_COLUMN not in dataset.columns or dataset.is_empty():
        return TIME_SPLIT
    return str(dataset.get_column(SPLIT_METHOD_COLUMN)[0])


def split_summary(dataset: pl.DataFrame) -> pl.DataFrame:
    """Rows, classes and time range per split, in train/valid/test order."""
    order = pl.DataFrame({"split": SPLITS, "order": range(len(SPLITS))})
    summary = dataset.group_by("split").agg(
        pl.len().alias("rows"),
        pl.col("leaf_id").n_unique().alias("classes"),
        pl.col("reported_at").min().alias("first_reported_at"),
        pl.col("reported_at").max().alias("last_reported_at"),
    )
    return (
        order.join(summary, on="split", how="left")
        .sort("order")
        .drop("order")
        .with_columns(pl.col("rows", "classes").fill_null(0))
    )


# ---- time split ------------------------------------------------------------------------------------
def _time_split(labelled: pl.DataFrame, valid_share: float, test_share: float) -> pl.DataFrame:
    """Oldest first; the cuts are computed over the dated rows (undated ones sort first, into train)."""
    ordered = labelled.sort("reported_at", "event_id", nulls_last=False)
    dated = ordered.filter(pl.col("reported_at").is_not_null())
    test_start = _cut(dated, test_share)
    valid_start = _cut(dated, test_share + valid_share)
    split = (
        pl.when(pl.col("reported_at") >= test_start)
        .then(pl.lit("test"))
        .when(pl.col("reported_at") >= valid_start)
        .then(pl.lit("valid"))
        .otherwise(pl.lit("train"))
    )
    return ordered.with_columns(split.alias("split"))


def _cut(sorted_events: pl.DataFrame, share: float) -> pl.Expr:
    """First timestamp of the latest `share` of the rows; null (no row is that late) when it rounds to 0."""
    n_later = round(sorted_events.height * share)
    if n_later == 0:
        return pl.lit(None, dtype=sorted_events.schema["reported_at"])
    return pl.lit(sorted_events["reported_at"][sorted_events.height - n_later])


# ---- grouped stratified split -------------------------------------------------------------------------
def text_group_key(title: str | None) -> pl.Expr:
    """Normalised body text, or the title when there is no body: identical keys share a split."""
    body = normalize_text_expr(pl.col("text").fill_null(""))
    if title is None:
        return body
    return pl.when(body != "").then(body).otherwise(normalize_text_expr(pl.col(title).fill_null("")))


def _grouped_split(labelled: pl.DataFrame, valid_share: float, test_share: float, seed: int) -> pl.DataFrame:
    """Test carved from all rows, then valid from the rest; each about its share of every label."""
    split = np.full(labelled.height, "train", dtype=object)
    labels = labelled.get_column("leaf_id").to_numpy()
    groups = labelled.get_column(_GROUP).to_numpy()
    everyone = np.arange(labelled.height)
    test = holdout(everyone, labels, groups, test_share, seed)
    split[test] = "test"
    rest = np.setdiff1d(everyone, test)
    split[holdout(rest, labels, groups, valid_share / (1 - test_share), seed)] = "valid"
    return labelled.with_columns(pl.Series("split", split.tolist(), dtype=pl.String))


def holdout(rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, share: float, seed: int) -> np.ndarray:
    """About ``share`` of ``rows`` (positions), stratified by label, whole groups only; empty for 0."""
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    if share <= 0 or rows.size == 0:
        return np.array([], dtype=int)
    n_splits = max(2, round(1 / share))
    if np.unique(groups[rows]).size < n_splits:
        raise DataFileError(
            f"only {np.unique(groups[rows]).size} distinct texts: too few for a {share:.0%} held-out split",
            "add labelled rows, or add reported_at to split by time",
        )
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # "least populated class has only k members": rare labels are fine
        warnings.simplefilter("ignore", UserWarning)
        _, held = next(folds.split(np.zeros(rows.size), labels[rows], groups[rows]))
    return rows[np.sort(held)]


def _check_shares(valid_share: float, test_share: float) -> None:
    if not (0 <= valid_share < 1 and 0 <= test_share < 1 and valid_share + test_share < 1):
        raise ValueError(
            f"shares must be in [0, 1) and sum below 1, got valid={valid_share}, test={test_share}"
        )
