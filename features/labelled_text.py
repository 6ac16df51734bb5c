"""A labelled text CSV (``id, title, text, label[, reported_at]``) as rows for the text training set.

For a city that has labelled messages but no event log: no grids, channels or dates are needed. The file
is read like an event log (``features.events``: every value a string, the encoding detected by
``features.encodings``, ragged and badly quoted rows kept as rejects) and checked row by row; every
rejected row keeps its strings plus ``reject_reason`` and ``source_row``, so accepted + rejected = rows
read, and :meth:`features.events.EventLoad.write_rejects` writes them for people (mode 0600, PII
redacted, formulas escaped).

``label`` names a leaf of the taxonomy: its id (``城乡建设`` in a flat taxonomy, ``l1/l2/l3`` in a tree)
or, when no other leaf has it, the name of its last level. A title-only or text-only row is kept; a row
with neither is rejected. ``reported_at`` is optional (any spelling the event loader accepts, inside the
plausible-date window); ``features.text_dataset`` splits by time when most rows have it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from features.date_window import DateWindow
from features.encodings import AUTO
from features.events import (
    EXTRA_FIELDS,
    MERGED_LINES,
    REASON_SEPARATOR,
    EventLoad,
    load_counts,
    parse_datetimes,
    read_event_file,
)
from features.schema import DATETIME, SchemaError
from features.taxonomy import Taxonomy
from features.text import is_blank_expr

REQUIRED_COLUMNS: tuple[str, ...] = ("id", "label")
TEXT_COLUMNS: tuple[str, ...] = ("title", "text")  # at least one of them
OPTIONAL_COLUMNS: tuple[str, ...] = ("reported_at",)
_LEAF_COLUMNS: tuple[str, ...] = ("leaf_id", "category_l1", "category_l2", "category_l3", "risk_group")


def load_labelled_text(
    path: str | Path, taxonomy: Taxonomy, *, encoding: str = AUTO, window: DateWindow | None = None
) -> EventLoad:
    """Read and check a labelled CSV (or Parquet); ``events`` has ``event_id, reported_at, title, text``
    and the leaf's columns, ready for :func:`features.text_dataset.build_text_dataset`."""
    raw, used = read_event_file(Path(path), encoding)
    loaded = validate_labelled_text(raw, taxonomy, window=window, source=str(path))
    if used:
        loaded.counts["encoding"] = used
    return loaded


def validate_labelled_text(
    raw: pl.DataFrame, taxonomy: Taxonomy, *, window: DateWindow | None = None, source: str = "labelled CSV"
) -> EventLoad:
    """Check an all-string frame with lower-case column names (as ``features.events`` reads files)."""
    _check_columns(raw, source)
    work = _with_missing_columns(raw).with_row_index("source_row", offset=1)
    work = work.with_columns(pl.col("source_row").cast(pl.Int64), *_cleaned()).join(
        _label_table(taxonomy), left_on="__label", right_on="__key", how="left", maintain_order="left"
    )
    work = work.with_columns(_reasons(raw.columns, window or DateWindow.default()).alias("reject_reason"))
    valid = pl.col("reject_reason") == ""
    events = work.filter(valid).select(
        pl.col("__id").alias("event_id"),
        pl.col("__reported_at").alias("reported_at"),
        pl.col("__title").alias("title"),
        pl.col("__text").alias("text"),
        *_LEAF_COLUMNS,
    )
    rejects = work.filter(~valid).select("source_row", "reject_reason", *raw.columns)
    if events.height + rejects.height != raw.height:
        raise AssertionError(f"rows lost: {raw.height} read, {events.height} kept, {rejects.height} rejected")
    return EventLoad(events=events, rejects=rejects, counts=load_counts(raw.height, events, rejects))


def leaf_keys(taxonomy: Taxonomy) -> dict[str, str]:
    """Every spelling of a label that names one leaf -> its leaf id: the ids, and last-level names that
    belong to a single leaf."""
    by_name: dict[str, set[str]] = {}
    for leaf in taxonomy.leaves:
        by_name.setdefault(leaf.l3, set()).add(leaf.id)
    unique_names = {name: next(iter(ids)) for name, ids in by_name.items() if len(ids) == 1}
    return unique_names | {leaf.id: leaf.id for leaf in taxonomy.leaves}


def _check_columns(raw: pl.DataFrame, source: str) -> None:
    missing = [name for name in REQUIRED_COLUMNS if name not in raw.columns]
    if not any(name in raw.columns for name in TEXT_COLUMNS):
        missing.append("title or text")
    if missing:
        raise SchemaError(
            f"{source}: labelled text lacks column(s) {missing}",
            f"it has {raw.columns[:20]}; the columns are id,title,text,label[,reported_at]",
        )


def _with_missing_columns(raw: pl.DataFrame) -> pl.DataFrame:
    absent = [name for name in (*TEXT_COLUMNS, *OPTIONAL_COLUMNS) if name not in raw.columns]
    return raw.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in absent)


def _cleaned() -> list[pl.Expr]:
    def clean(name: str) -> pl.Expr:
        return pl.col(name).str.strip_chars().replace("", None)

    return [
        clean("id").alias("__id"),
        clean("label").alias("__label"),
        clean("title").alias("__title"),
        clean("text").alias("__text"),
        clean("reported_at").alias("__reported_at_raw"),
        clean("reported_at")
        .map_batches(parse_datetimes, DATETIME, is_elementwise=True)
        .alias("__reported_at"),
    ]


def _label_table(taxonomy: Taxonomy) -> pl.DataFrame:
    keys = leaf_keys(taxonomy)
    leaves = pl.DataFrame(taxonomy.to_records()).select(_LEAF_COLUMNS)
    table = pl.DataFrame(
        {"__key": list(keys), "leaf_id": list(keys.values())},
        schema={"__key": pl.String, "leaf_id": pl.String},
    )
    return table.join(leaves, on="leaf_id", how="left")


def _reasons(columns: list[str], window: DateWindow) -> pl.Expr:
    def reason(condition: pl.Expr, text: str) -> pl.Expr:
        return pl.when(condition).then(pl.lit(text))

    reported = pl.col("__reported_at")
    checks = [
        reason(pl.col("__id").is_null(), "missing id"),
        reason(pl.col("__id").is_not_null() & ~pl.col("__id").is_first_distinct(), "duplicate id"),
        reason(pl.col("__label").is_null(), "missing label"),
        reason(pl.col("__label").is_not_null() & pl.col("leaf_id").is_null(), "unknown label"),
        reason(is_blank_expr("__title") & is_blank_expr("__text"), "empty title and text"),
        reason(pl.col("__reported_at_raw").is_not_null() & reported.is_null(), "unparseable reported_at"),
        *(reason(bad, text) for text, bad in window.violations(reported, "reported_at").items()),
        reason(pl.col(EXTRA_FIELDS).is_not_null(), "too many fields") if EXTRA_FIELDS in columns else None,
        reason(pl.col(MERGED_LINES).is_not_null(), "unbalanced quote: lines merged")
        if MERGED_LINES in columns
        else None,
        reason(_has_replacement_character(columns), "invalid characters (U+FFFD)"),
    ]
    return pl.concat_str([c for c in checks if c is not None], separator=REASON_SEPARATOR, ignore_nulls=True)


def _has_replacement_character(columns: list[str]) -> pl.Expr:
    contains = (pl.col(name).str.contains("\ufffd", literal=True) for name in columns)
    return pl.any_horizontal(contains).fill_null(False)
