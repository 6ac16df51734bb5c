"""The GridSense event-log schema: one row per citizen or grid-worker report.

Required versus optional, and why:

* ``event_id``, ``reported_at`` and ``grid_id`` are required. Without an id a report cannot be
  deduplicated or traced back; without a time it cannot be placed in the time split or in the grid x week
  panel; without a grid it cannot be forecast.
* ``channel`` is optional (many city logs do not record it): a missing column or an empty value is
  ``unknown`` (:data:`UNKNOWN_CHANNEL`). It tells hotline transcripts from grid-worker notes.
* ``text`` is optional as a *column* (a crime or police log may have none; risk forecasts do not read
  it): a log without it has null texts. When the column is present, every row's text must be non-empty,
  because the text is what the classifier reads.
* ``category_l1`` is required only for a *labelled* log (training data, ``require_labels=True``). Incoming
  reports that the model is asked to classify have no category yet. ``category_l2``/``category_l3`` are
  optional columns: a flat taxonomy has no lower levels, and a missing level repeats the deepest given one
  (as in the taxonomy file), so ``(l1, "", "")`` names a flat leaf.
* ``title`` is optional: hotline calls and sensor alarms usually have no title, only a transcript.
* ``department`` is optional: it is filled from the taxonomy when missing (a given value is kept, it may
  record the department that actually handled the case).
* ``status`` and ``closed_at`` are optional: open reports have neither, and many exports omit them.
* ``lat``/``lon`` are optional: hotline calls often have no coordinates; the grid id locates the report.
  When given, both must be present and within WGS84 ranges.

A missing optional *column* is added as nulls; a missing required column is a file-level
:class:`SchemaError`. Times are naive local time (China has a single time zone); values with a UTC
offset are rejected rather than silently shifted.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from core.errors import DataFileError

CHANNELS: tuple[str, ...] = ("hotline", "app", "grid_worker", "sensor")
UNKNOWN_CHANNEL = "unknown"  # a log or row without a channel
STATUSES: tuple[str, ...] = ("open", "in_progress", "closed")
LABEL_COLUMNS: tuple[str, ...] = ("category_l1", "category_l2", "category_l3")
DERIVED_COLUMNS: tuple[str, ...] = ("leaf_id", "risk_group")
REJECT_COLUMNS: tuple[str, ...] = ("source_row", "reject_reason")
LAT_RANGE: tuple[float, float] = (-90.0, 90.0)
LON_RANGE: tuple[float, float] = (-180.0, 180.0)
DATETIME = pl.Datetime("us")


class SchemaError(DataFileError):
    """The file as a whole does not follow the event-log schema (e.g. a required column is missing).
    A user error: the CLI prints it as one line."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    required: bool
    description: str


EVENT_COLUMNS: tuple[Column, ...] = (
    Column("event_id", pl.String(), True, "unique report id"),
    Column("reported_at", DATETIME, True, "when the report was made, naive local time"),
    Column("grid_id", pl.String(), True, "grid cell the report belongs to"),
    Column("channel", pl.String(), False, f"one of {', '.join(CHANNELS)}; empty = {UNKNOWN_CHANNEL}"),
    Column("title", pl.String(), False, "short title, often absent"),
    Column("text", pl.String(), False, "report text; when the column is given, non-empty in every row"),
    Column("category_l1", pl.String(), False, "taxonomy level 1; required in labelled logs"),
    Column("category_l2", pl.String(), False, "taxonomy level 2; empty = repeats level 1"),
    Column("category_l3", pl.String(), False, "taxonomy level 3; empty = repeats level 2"),
    Column("department", pl.String(), False, "handling department; filled from the taxonomy"),
    Column("status", pl.String(), False, f"one of {', '.join(STATUSES)}"),
    Column("closed_at", DATETIME, False, "when the case was closed; not before reported_at"),
    Column("lat", pl.Float64(), False, "WGS84 latitude"),
    Column("lon", pl.Float64(), False, "WGS84 longitude"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in EVENT_COLUMNS)

# Why a report is invalid (not actionable): the values of the optional ``invalid_reason`` column and the
# reasons the invalid-report model predicts.
INVALID_REASONS: tuple[str, ...] = (
    "empty",
    "gibberish",
    "test",
    "advertising",
    "abuse",
    "thanks",
    "out_of_scope",
)
# Optional ground-truth columns (the demo city writes them; a real log may): never required, never added
# when missing, passed through by the loader like any column outside the schema. Invalid reports carry a
# leaf (a labelled log needs one) but never become text-training rows (``features.text_dataset``).
GROUND_TRUTH_COLUMNS: tuple[Column, ...] = (
    Column("incident_id", pl.String(), False, "shared by the reports of one incident; null for invalid ones"),
    Column("reporter_id", pl.String(), False, "who reported (a pseudonymous id)"),
    Column("invalid_reason", pl.String(), False, "null when valid, else one of INVALID_REASONS"),
)

# Typed frame returned by the loader: the schema columns plus the labels derived from the taxonomy.
EVENT_SCHEMA: dict[str, pl.DataType] = {
    **{column.name: column.dtype for column in EVENT_COLUMNS},
    "leaf_id": pl.String(),
    "risk_group": pl.String(),
}


def required_columns(require_labels: bool) -> tuple[str, ...]:
    """Columns that must be present in a file (and non-empty in every row)."""
    required = tuple(column.name for column in EVENT_COLUMNS if column.required)
    return (*required, "category_l1") if require_labels else required
