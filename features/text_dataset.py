"""The text classifier's training set: labelled events, prepared text, and a split by time.

The split imitates deployment: a model trained on the past classifies later reports. Events are ordered
by ``reported_at``; the latest ``test_share`` form the test set and the ``valid_share`` before them the
validation set. The cuts are timestamps, so every test report is at least as late as every valid report,
and every valid report strictly later than every train report (reports sharing the cut time go to the
later split, which can make it slightly larger than its share).
"""

from __future__ import annotations

import polars as pl

from features.text import prepare_text_expr

SPLITS: tuple[str, ...] = ("train", "valid", "test")
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


def build_text_dataset(
    events: pl.DataFrame, valid_share: float = 0.15, test_share: float = 0.15
) -> pl.DataFrame:
    """Labelled events of a loaded log (see ``features.events``) as model-ready rows, oldest first."""
    _check_shares(valid_share, test_share)
    title = "title" if "title" in events.columns else None
    labelled = (
        events.filter(pl.col("leaf_id").is_not_null())
        .with_columns(prepare_text_expr(title, "text").alias("text"))
        .sort("reported_at", "event_id")
    )
    test_start = _cut(labelled, test_share)
    valid_start = _cut(labelled, test_share + valid_share)
    split = (
        pl.when(pl.col("reported_at") >= test_start)
        .then(pl.lit("test"))
        .when(pl.col("reported_at") >= valid_start)
        .then(pl.lit("valid"))
        .otherwise(pl.lit("train"))
    )
    extra = [column for column in OPTIONAL_COLUMNS if column in labelled.columns]
    return labelled.with_columns(split.alias("split")).select(*TEXT_DATASET_COLUMNS, *extra)


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


def _cut(sorted_events: pl.DataFrame, share: float) -> pl.Expr:
    """First timestamp of the latest `share` of the rows; null (no row is that late) when it rounds to 0."""
    n_later = round(sorted_events.height * share)
    if n_later == 0:
        return pl.lit(None, dtype=sorted_events.schema["reported_at"])
    return pl.lit(sorted_events["reported_at"][sorted_events.height - n_later])


def _check_shares(valid_share: float, test_share: float) -> None:
    if not (0 <= valid_share < 1 and 0 <= test_share < 1 and valid_share + test_share < 1):
        raise ValueError(
            f"shares must be in [0, 1) and sum below 1, got valid={valid_share}, test={test_share}"
        )
