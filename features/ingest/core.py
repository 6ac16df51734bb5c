"""The normalised event and unit frames every adapter produces, and the steps adapters share.

Events (one row per event, ``EVENT_SCHEMA``): ``event_id, reported_at, unit_id, risk_group, category,
parent_area, lat, lon, text, text_category``. ``unit_id`` is null for events known only at the parent
level (a Swedish county); they still count in parent-area signals. ``risk_group`` is one of the groups
the config maps (any ids the site chooses: ``dispute``, ``theft`` ...) or ``none``.

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
    "channel": pl.String(),
    "title": pl.String(),
    "category_l2": pl.String(),  # lower taxonomy levels, when a mapping file gives a path
    "category_l3": pl.String(),
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
    # the rejected rows: ``source_row`` (1-based), ``reject_reason`` (reasons joined by "; "), the raw columns
    rejected: pl.DataFrame | None = None
    rows_read: int | None = None  # rows in the source file

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


def parse_time(column: str, source: dict, dtype: pl.DataType) -> pl.Expr:
    """The time column as a naive microsecond datetime in local time; null when it does not parse.

    ``source.time_format``: the strptime format (default: ISO-like spellings); ``source.timezone``: the
    city's zone (IANA name): times with an offset or a zone are converted to it, naive times are taken to
    be in ``source.input_timezone`` when given (e.g. UTC exports), else already local."""
    local = source.get("timezone")
    if dtype.is_temporal():
        parsed = pl.col(column).cast(pl.Datetime("us", getattr(dtype, "time_zone", None)))
        aware = getattr(dtype, "time_zone", None) is not None
    else:
        text = pl.col(column).cast(pl.String).str.strip_chars()
        time_format = source.get("time_format")
        aware = bool(time_format and "%z" in time_format.replace("%:z", "%z"))
        if aware:
            parsed = text.str.strptime(pl.Datetime("us", "UTC"), time_format, strict=False)
        elif time_format:
            parsed = text.str.strptime(pl.Datetime("us"), time_format, strict=False)
        else:
            parsed = text.str.to_datetime(time_unit="us", strict=False)
    if not aware and local and source.get("input_timezone"):
        parsed, aware = (
            parsed.dt.replace_time_zone(source["input_timezone"], ambiguous="earliest", non_existent="null"),
            True,
        )
    if aware:
        return parsed.dt.convert_time_zone(local or "UTC").dt.replace_time_zone(None)
    return parsed


def optional_columns(source: dict, available: list[str]) -> list[pl.Expr]:
    """``channel`` and ``title`` from ``source.channel_column`` / ``title_column`` (null when unset).
    A fixed ``source.channel`` (e.g. ``hotline``) applies to every row."""
    exprs = []
    for name in ("channel", "title"):
        column = source.get(f"{name}_column")
        if column and column in available:
            exprs.append(pl.col(column).cast(pl.String).str.strip_chars().replace("", None).alias(name))
        else:
            exprs.append(pl.lit(source.get(name), pl.String).alias(name))
    return exprs


def risk_group_expr(category: pl.Expr, config: AdapterConfig) -> pl.Expr:
    """Category -> its risk group (or ``none``) through the config's mapping (names compared normalised)."""
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


def split_rejects(
    frame: pl.DataFrame, reasons: dict[str, pl.Expr]
) -> tuple[pl.DataFrame, dict[str, int], pl.DataFrame]:
    """(kept rows, count per reason, rejected rows with ``reject_reason``: every reason joined by "; ")."""
    flags = frame.select(**{name: expr.fill_null(True) for name, expr in reasons.items()})
    counts = Counter({name: int(flags[name].sum()) for name in reasons})
    bad = (
        flags.select(pl.any_horizontal(pl.all())).to_series()
        if reasons
        else pl.Series([False] * frame.height)
    )
    reason = pl.concat_str(
        [pl.when(pl.col(name)).then(pl.lit(name)) for name in reasons], separator="; ", ignore_nulls=True
    )
    rejected = pl.concat([frame, flags.select(reason.alias("reject_reason"))], how="horizontal").filter(bad)
    return frame.filter(~bad), {name: n for name, n in counts.items() if n}, rejected


def rejected_rows(rejected: pl.DataFrame, raw: pl.DataFrame, row_column: str = "_row") -> pl.DataFrame:
    """``source_row`` (1-based), ``reject_reason`` and the row's original values as text, for the reject
    file; ``rejected`` carries the 0-based ``row_column`` of ``raw``."""
    original = raw.with_row_index(row_column).join(
        rejected.select(row_column, "reject_reason"), on=row_column, how="inner", maintain_order="right"
    )
    return original.select(
        (pl.col(row_column) + 1).cast(pl.Int64).alias("source_row"),
        "reject_reason",
        *(pl.col(name).cast(pl.String) for name in raw.columns),
    )


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
