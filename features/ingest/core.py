"""The normalised event and unit frames every adapter produces, and the steps adapters share.

Events (one row per event, ``EVENT_SCHEMA``): ``event_id, reported_at, unit_id, risk_group, category,
parent_area, lat, lon, text, text_category``. ``unit_id`` is null for events known only at the parent
level (a Swedish county); they still count in parent-area signals. ``risk_group`` is ``dispute``,
``hazard`` or ``none``.

Units (``UNIT_SCHEMA`` first, then static attributes): ``unit_id, x_m, y_m, parent_area``, optionally
``lat, lon`` and numeric attributes (population ...), which the panel uses as static features.

Bad rows (no time, no place, outside the area) are never dropped silently: every adapter counts them by
reason in ``IngestedLog.rejects``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from core.errors import DataFileError
from features.date_window import DateWindow
from features.encodings import AUTO
from features.files import read_csv_text, read_parquet, require_columns
from features.ingest.config import AdapterConfig, normalise_category

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "reported_at": pl.Datetime("us"),
    "unit_id": pl.String(),
    "risk_group": pl.String(),
    "category": pl.String(),
    "parent_area": pl.String(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "text": pl.String(),
    "text_category": pl.String(),
}
UNIT_SCHEMA: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "x_m": pl.Float64(),
    "y_m": pl.Float64(),
    "parent_area": pl.String(),
}
TEXT_SEPARATOR = "。"


@dataclass
class IngestedLog:
    """An event log in GridSense's normalised form, ready for ``features.panel.build_panel``."""

    events: pl.DataFrame
    units: pl.DataFrame
    config: AdapterConfig
    rejects: dict[str, int] = field(default_factory=dict)

    @property
    def groups(self) -> tuple[str, ...]:
        return self.config.groups

    def categories(self) -> list[str]:
        """Categories that get their own count columns: every mapped one, then the most frequent others,
        up to ``max_categories`` (all of them when unset)."""
        frequency = self.events.group_by("category").len().sort(["len", "category"], descending=[True, False])
        ordered = frequency["category"].drop_nulls().to_list()
        mapped = [c for c in ordered if normalise_category(c) in self.config.category_groups()]
        others = [c for c in ordered if c not in mapped]
        limit = self.config.max_categories
        chosen = mapped + others if limit is None else (mapped + others)[: max(limit, len(mapped))]
        return chosen

    def panel_inputs(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(events, grids) in the panel's column names: unit_id -> grid_id, category -> category_l1."""
        events = self.events.rename({"unit_id": "grid_id", "category": "category_l1"})
        grids = self.units.rename({"unit_id": "grid_id"})
        return events, grids


# ---- shared steps --------------------------------------------------------------------------------------
def read_table(path: str | Path, what: str = "event file", encoding: str = AUTO) -> pl.DataFrame:
    """CSV (also .csv.gz, decoded by ``features.encodings``) or Parquet, every CSV column as text."""
    path = Path(path)
    if path.suffix == ".parquet":
        return read_parquet(path, what)
    if path.name.endswith((".csv", ".csv.gz")):
        return read_csv_text(path, what, encoding)
    raise DataFileError(f"unsupported {what} {path.name}", "use .csv, .csv.gz or .parquet")


def require_config_columns(raw: pl.DataFrame, config: AdapterConfig, names: list[str | None]) -> None:
    """The columns the adapter config names must be in the file."""
    require_columns(raw, [name for name in names if name], f"event file for adapter {config.name!r}")


def window_reasons(window: DateWindow | None) -> dict[str, pl.Expr]:
    """Reject reasons for times outside the plausible window (``DateWindow.default()`` when None)."""
    return (window or DateWindow.default()).violations(pl.col("reported_at"), "time")


def parse_time(column: str, time_format: str | None, dtype: pl.DataType) -> pl.Expr:
    """The time column as a naive microsecond datetime; null when it does not parse."""
    if dtype.is_temporal():
        return pl.col(column).cast(pl.Datetime("us")).dt.replace_time_zone(None)
    text = pl.col(column).cast(pl.String).str.strip_chars()
    if time_format:
        return text.str.strptime(pl.Datetime("us"), time_format, strict=False)
    return text.str.to_datetime(time_unit="us", strict=False)


def risk_group_expr(category: pl.Expr, config: AdapterConfig) -> pl.Expr:
    """Category -> dispute / hazard / none through the config's mapping (names compared normalised)."""
    mapping = config.category_groups()
    normalised = (
        category.str.replace_all(",", " ").str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase()
    )
    return normalised.replace_strict(mapping, default="none", return_dtype=pl.String)


def text_expr(columns: list[str], available: list[str]) -> pl.Expr:
    present = [pl.col(c).cast(pl.String) for c in columns if c in available]
    if not present:
        return pl.lit(None, pl.String)
    return pl.concat_str(present, separator=TEXT_SEPARATOR, ignore_nulls=True)


def text_rule_expr(text: pl.Expr, rules: dict[str, str]) -> pl.Expr:
    """The first rule (in config order) whose regular expression matches the lower-cased text."""
    if not rules:
        return pl.lit(None, pl.String)
    lowered = text.str.to_lowercase()
    expr = pl.when(lowered.str.contains(f"(?i){next(iter(rules.values()))}")).then(pl.lit(next(iter(rules))))
    for name, pattern in list(rules.items())[1:]:
        expr = expr.when(lowered.str.contains(f"(?i){pattern}")).then(pl.lit(name))
    return expr.otherwise(pl.lit(None, pl.String))


def skipped_categories(category: pl.Expr, prefixes: list[str]) -> pl.Expr:
    if not prefixes:
        return pl.lit(False)
    return pl.any_horizontal(category.str.starts_with(prefix) for prefix in prefixes).fill_null(False)


def count_rejects(frame: pl.DataFrame, reasons: dict[str, pl.Expr]) -> tuple[pl.DataFrame, dict[str, int]]:
    """Split off the rows any reason applies to; count each reason (a row may have several)."""
    flags = frame.select(**{name: expr.fill_null(True) for name, expr in reasons.items()})
    counts = Counter({name: int(flags[name].sum()) for name in reasons})
    bad = (
        flags.select(pl.any_horizontal(pl.all())).to_series()
        if reasons
        else pl.Series([False] * frame.height)
    )
    return frame.filter(~bad), {name: n for name, n in counts.items() if n}


def finish_events(frame: pl.DataFrame) -> pl.DataFrame:
    """The normalised columns in order (absent ones null), sorted by time then id."""
    columns = [
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in EVENT_SCHEMA.items()
    ]
    return frame.select(columns).sort("reported_at", "event_id")


def finish_units(frame: pl.DataFrame) -> pl.DataFrame:
    extra = [c for c in frame.columns if c not in UNIT_SCHEMA]
    typed = [pl.col(name).cast(dtype) for name, dtype in UNIT_SCHEMA.items()]
    return frame.select(*typed, *extra).sort("unit_id")
