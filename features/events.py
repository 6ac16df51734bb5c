"""Load an event log, validate it against the schema and the taxonomy, and keep every bad row.

Everything is read as strings first, so no value can crash the load; parsing and validation are polars
expressions over whole columns. A missing required *column* is a file-level :class:`SchemaError`; every
other problem is a per-row reason. Rejected rows keep their original strings plus ``reject_reason``
(all reasons, joined by ``"; "``) and ``source_row`` (1-based record number after the header; a blank
CSV line counts as a record). ``len(events) + len(rejects)`` always equals the rows read.

Lenient on form, strict on meaning: values are stripped, ``channel``/``status`` are compared
lower-cased, column names are matched case-insensitively, and several datetime spellings are accepted
(``2024-03-05T14:20:00``, ``2024-03-05 14:20``, ``2024/3/5 14:20``, ``2024年3月5日 14:20``, a bare date =
midnight); values with a UTC offset are rejected (the log is naive local time). When an ``event_id``
repeats, the first occurrence in file order owns it and every later one is rejected, even if the first is
itself rejected for another reason. Columns outside the schema are kept as strings, except ``leaf_id``,
``risk_group``, ``source_row`` and ``reject_reason``, which are recomputed (so a fixed rejects file or a
previous load's output can be loaded again). An empty or absent ``channel`` is ``unknown``; a log without a
``text`` column has null texts (an empty text in a present column is still a reject).

Every loader applies the window of plausible dates (``features.date_window``; default 2000-01-01 to the
load time plus a day) to ``reported_at`` and ``closed_at``. CSV files are decoded by
``features.encodings`` (``encoding="auto"``: BOM, UTF-8, then detection, GBK/GB18030 included). A quote
left open swallows the rows after it into one field; a field holding a line that looks like a record
(``_SWALLOWED_LINE``) marks its row "unbalanced quote: fields from lines a-b merged", with the physical
lines (header = line 1). Every whole-file problem is a :class:`SchemaError`, a user error the CLI prints
as one line.

Reject files (:meth:`EventLoad.write_rejects`) are written for people: mode 0600, every text field PII-
redacted (``features.text.redact_pii_expr``) unless ``raw=True``, and formula-escaped CSV
(``features.people_files``).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from features.date_window import DateWindow
from features.encodings import AUTO, decode_to_utf8
from features.files import first_line
from features.people_files import write_csv_for_people, write_private
from features.schema import (
    CHANNELS,
    COLUMN_NAMES,
    DATETIME,
    DERIVED_COLUMNS,
    LABEL_COLUMNS,
    LAT_RANGE,
    LON_RANGE,
    REJECT_COLUMNS,
    STATUSES,
    UNKNOWN_CHANNEL,
    SchemaError,
    required_columns,
)
from features.taxonomy import Taxonomy
from features.text import is_blank_expr, redact_pii_expr

REASON_SEPARATOR = "; "
_ISO_FORMAT = "%Y-%m-%d %H:%M:%S"
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_DATE_PART = r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:T|\s+)?"
EXTRA_FIELDS = "extra_fields"  # CSV rows with more fields than the header keep the surplus here
MERGED_LINES = "merged_lines"  # "12-14": a row whose open quote swallowed the lines after it
_READER_COLUMNS = (EXTRA_FIELDS, MERGED_LINES)  # added by the CSV reader, never part of the events
# A line inside a field with four or more commas looks like a record (every event log has at least five
# columns): the field's opening quote was never closed where it should have been.
_SWALLOWED_LINE = r"\n(?:[^\n,]*,){4}"
_HEADER_CHARS = 1 << 16  # the header is parsed on its own (duplicate names) from the file's start
_PREFIX = "__"  # working columns; never part of the output


@dataclass
class EventLoad:
    events: pl.DataFrame
    rejects: pl.DataFrame
    counts: dict[str, Any] = field(default_factory=dict)

    def write_rejects(self, path: str | Path, *, raw: bool = False) -> Path:
        """Write the rejects (Parquet if the name ends in .parquet, else formula-escaped CSV), mode 0600,
        every text field PII-redacted; ``raw=True`` keeps the original text (sensitive: only when an
        operator asks for it). Returns the path."""
        rejects = self.rejects if raw else redacted_rejects(self.rejects)
        if Path(path).suffix == ".parquet":
            return write_private(path, rejects.write_parquet)
        return write_csv_for_people(rejects, path)


def redacted_rejects(rejects: pl.DataFrame) -> pl.DataFrame:
    """Every text column but the reason redacted: a shifted row can put free text in any column."""
    texts = [name for name, dtype in rejects.schema.items() if dtype == pl.String and name != "reject_reason"]
    return rejects.with_columns(redact_pii_expr(name).alias(name) for name in texts)


# ---- entry points ------------------------------------------------------------------------------------
def load_events(
    source: str | Path | pl.DataFrame,
    taxonomy: Taxonomy,
    require_labels: bool = True,
    *,
    encoding: str = AUTO,
    window: DateWindow | None = None,
) -> EventLoad:
    """Read a CSV (.csv, .csv.gz) or Parquet event log, or take a frame, and validate it.
    ``encoding`` applies to CSV (``auto``: detected); ``window`` defaults to ``DateWindow.default()``."""
    if isinstance(source, pl.DataFrame):
        return validate_events(source, taxonomy, require_labels, window=window)
    raw, used = read_event_file(Path(source), encoding)
    loaded = validate_events(raw, taxonomy, require_labels, window=window)
    if used:
        loaded.counts["encoding"] = used
    return loaded


def validate_events(
    df: pl.DataFrame, taxonomy: Taxonomy, require_labels: bool = True, *, window: DateWindow | None = None
) -> EventLoad:
    """Validate an in-memory event log; any dtypes are accepted and first rendered as strings.
    Dates outside ``window`` (default ``DateWindow.default()``: 2000-01-01 to now + 1 day) are rejected:
    a typo or a broken clock would otherwise stretch the panel or land in a future week's features."""
    raw = _as_strings(df)
    _check_columns(raw, require_labels)
    raw = raw.with_row_index("source_row", offset=1).with_columns(pl.col("source_row").cast(pl.Int64))
    reasons = _reasons(raw.columns, require_labels, window or DateWindow.default())
    work = _parse(raw, taxonomy).with_columns(reasons.alias("reject_reason"))
    is_valid = pl.col("reject_reason") == ""
    events = work.filter(is_valid).select(_event_columns(raw.columns))
    rejects = work.filter(~is_valid).select("source_row", "reject_reason", *_raw_columns(raw.columns))
    if events.height + rejects.height != raw.height:
        raise AssertionError(
            f"rows lost: {raw.height} read, {events.height} valid, {rejects.height} rejected"
        )
    return EventLoad(events=events, rejects=rejects, counts=load_counts(raw.height, events, rejects))


# ---- reading -------------------------------------------------------------------------------------------
def read_raw_events(path: str | Path, encoding: str = AUTO) -> pl.DataFrame:
    """The file as an all-string frame (no validation)."""
    return read_event_file(Path(path), encoding)[0]


def read_event_file(path: Path, encoding: str) -> tuple[pl.DataFrame, str | None]:
    """The raw frame and, for CSV, the encoding it was read with."""
    name = path.name.lower()
    if not name.endswith((".parquet", ".csv", ".csv.gz")):
        raise SchemaError(
            f"{path}: unsupported file type", "use an event log ending in .csv, .csv.gz or .parquet"
        )
    if not path.is_file():
        raise SchemaError(f"{path}: no such file", "check the path")
    if name.endswith(".parquet"):
        return _read_parquet(path), None
    text, utf8, used = decode_to_utf8(_csv_bytes(path), encoding)
    return _read_csv(text, utf8, path), used


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise SchemaError(
            f"{path}: not a readable Parquet file: {first_line(error)}", "re-export it, or use CSV"
        ) from None
    return _as_strings(frame, str(path))


def _csv_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if not path.name.lower().endswith(".gz"):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise SchemaError(f"{path}: not a readable gzip file: {error}", "re-compress it") from None


def _read_csv(text: str, utf8: bytes, path: Path) -> pl.DataFrame:
    if not text.strip():
        raise SchemaError(f"{path}: empty file, no header", "the first line must name the columns")
    _check_header(next(csv.reader(io.StringIO(text[:_HEADER_CHARS], newline=""))), path)
    try:
        frame = pl.read_csv(utf8, infer_schema=False)
    except pl.exceptions.ComputeError:
        # Ragged or badly quoted rows: fall back to the lenient stdlib parser (C, but row by row).
        return _read_csv_leniently(text, path)
    if _has_swallowed_lines(frame):
        return _read_csv_leniently(text, path)  # for the line numbers of the merged rows
    return frame


def _check_header(header: list[str], path: Path) -> None:
    names = [_column_key(name) for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SchemaError(
            f"{path}: duplicate column name(s) {repeated} in the header (compared case-insensitively)",
            "rename or delete the repeated columns",
        )


def _has_swallowed_lines(frame: pl.DataFrame) -> bool:
    flags = frame.select(pl.any_horizontal(pl.all().str.contains(_SWALLOWED_LINE)).fill_null(False).any())
    return bool(flags.item())


def _read_csv_leniently(text: str, path: Path) -> pl.DataFrame:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, lines = [], []
    try:
        for row in reader:
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as error:
        raise SchemaError(f"{path}: unreadable CSV: {error}", "check its quoting") from None
    header, body = rows[0], rows[1:]
    width = len(header)
    columns: dict[str, list[str | None]] = {
        name: [row[i] if i < len(row) and row[i] != "" else None for row in body]
        for i, name in enumerate(header)
    }
    columns[EXTRA_FIELDS] = [",".join(row[width:]) if any(row[width:]) else None for row in body]
    columns[MERGED_LINES] = [
        f"{first + 1}-{last}" if any(re.search(_SWALLOWED_LINE, value) for value in row) else None
        for row, first, last in zip(body, lines[:-1], lines[1:], strict=True)
    ]
    return pl.DataFrame(columns, schema={name: pl.String for name in columns})


def _column_key(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def _as_strings(df: pl.DataFrame, source: str = "event log") -> pl.DataFrame:
    names = [_column_key(name) for name in df.columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SchemaError(
            f"{source}: duplicate column name(s) {repeated} (compared case-insensitively)",
            "rename or delete the repeated columns",
        )
    kept = [new for new in names if new not in (*DERIVED_COLUMNS, *REJECT_COLUMNS)]
    try:
        return df.rename(dict(zip(df.columns, names, strict=True))).select(pl.col(kept).cast(pl.String))
    except pl.exceptions.PolarsError as error:
        raise SchemaError(
            f"{source}: columns that cannot be read as text: {first_line(error)}",
            "store them as text, numbers or dates",
        ) from None


def _check_columns(raw: pl.DataFrame, require_labels: bool) -> None:
    missing = [name for name in required_columns(require_labels) if name not in raw.columns]
    if missing:
        kind = "labelled " if require_labels else ""
        raise SchemaError(
            f"{kind}event log lacks required column(s) {missing}",
            f"it has {raw.columns[:20]}; add or rename the columns",
        )


# ---- parsing ---------------------------------------------------------------------------------------
def _work(name: str) -> str:
    return f"{_PREFIX}{name}"


def _col(name: str) -> pl.Expr:
    return pl.col(_work(name))


def _clean(name: str, columns: list[str]) -> pl.Expr:
    """Stripped value, null when empty or when the column is absent."""
    if name not in columns:
        return pl.lit(None, dtype=pl.String).alias(_work(name))
    return pl.col(name).str.strip_chars().replace("", None).alias(_work(name))


def parse_datetimes(values: pl.Series) -> pl.Series:
    """Parse the usual ISO spelling natively in one pass, then only the leftovers with the other formats."""
    parsed = values.str.replace_many(["T", "/"], [" ", "-"]).str.strptime(DATETIME, _ISO_FORMAT, strict=False)
    leftover = (parsed.is_null() & values.is_not_null()).arg_true()
    if leftover.is_empty():
        return parsed
    canonical = values.gather(leftover).str.replace(_DATE_PART, "${1}-${2}-${3} ").str.strip_chars()
    retried = pl.select(
        pl.coalesce(canonical.str.strptime(DATETIME, fmt, strict=False) for fmt in _DATETIME_FORMATS)
    ).to_series()
    return parsed.scatter(leftover, retried)


def _parse(raw: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    work = raw.with_columns(_clean(name, raw.columns) for name in COLUMN_NAMES)
    work = work.with_columns(
        _col("channel").str.to_lowercase().fill_null(UNKNOWN_CHANNEL),
        _col("status").str.to_lowercase(),
        _col("reported_at")
        .map_batches(parse_datetimes, DATETIME, is_elementwise=True)
        .alias(_work("reported_at_dt")),
        _col("closed_at")
        .map_batches(parse_datetimes, DATETIME, is_elementwise=True)
        .alias(_work("closed_at_dt")),
        _col("lat").cast(pl.Float64, strict=False).alias(_work("lat_f")),
        _col("lon").cast(pl.Float64, strict=False).alias(_work("lon_f")),
        is_blank_expr(_col("text")).alias(_work("text_empty")),
        (_col("event_id").is_not_null() & ~_col("event_id").is_first_distinct()).alias(_work("duplicate")),
    )
    return _join_taxonomy(work, taxonomy)


def _join_taxonomy(work: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """Attach the leaf of each (l1, l2, l3) path; a missing level repeats the one above (as in taxonomy)."""
    l1, l2, l3 = (_col(name) for name in LABEL_COLUMNS)
    work = work.with_columns(
        l1.alias(_work("key_l1")),
        pl.coalesce(l2, l1).alias(_work("key_l2")),
        pl.coalesce(l3, l2, l1).alias(_work("key_l3")),
    )
    leaves = pl.DataFrame(
        taxonomy.to_records(), schema={name: pl.String for name in taxonomy.to_records()[0]}
    )
    leaves = leaves.rename({name: _work(f"leaf_{name}") for name in leaves.columns})
    return work.join(
        leaves,
        left_on=[_work("key_l1"), _work("key_l2"), _work("key_l3")],
        right_on=[_work(f"leaf_{name}") for name in LABEL_COLUMNS],
        how="left",
        coalesce=False,
        maintain_order="left",
    )


# ---- validation ------------------------------------------------------------------------------------
def _reason(condition: pl.Expr, reason: str) -> pl.Expr:
    return pl.when(condition).then(pl.lit(reason))


def _reasons(columns: list[str], require_labels: bool, window: DateWindow) -> pl.Expr:
    has_label = pl.any_horizontal(_col(name).is_not_null() for name in LABEL_COLUMNS)
    reported, closed = _col("reported_at_dt"), _col("closed_at_dt")
    checks = [
        *(
            _reason(_col(name).is_null(), f"missing {name}")
            for name in required_columns(require_labels=False)
            if name != "text"
        ),
        _reason(_col("reported_at").is_not_null() & reported.is_null(), "unparseable reported_at"),
        _reason(_col("closed_at").is_not_null() & closed.is_null(), "unparseable closed_at"),
        _reason(closed < reported, "closed_at before reported_at"),
        *_window_reasons(window),
        _reason(~_col("channel").is_in((*CHANNELS, UNKNOWN_CHANNEL)), "unknown channel"),
        _reason(_col("status").is_not_null() & ~_col("status").is_in(STATUSES), "unknown status"),
        _reason(has_label & _col("leaf_leaf_id").is_null(), "unknown category path"),
        _reason(~has_label, "missing label") if require_labels else None,
        *_coordinate_reasons(),
        _reason(_col("text_empty"), "empty text") if "text" in columns else None,
        _reason(_col("duplicate"), "duplicate event_id"),
        _reason(pl.col(EXTRA_FIELDS).is_not_null(), "too many fields") if EXTRA_FIELDS in columns else None,
        _merged_lines_reason() if MERGED_LINES in columns else None,
        _reason(_has_replacement_character(columns), "invalid characters (U+FFFD)"),
    ]
    checks = [check for check in checks if check is not None]
    return pl.concat_str(checks, separator=REASON_SEPARATOR, ignore_nulls=True)


def _window_reasons(window: DateWindow) -> list[pl.Expr]:
    return [
        _reason(condition, reason)
        for name in ("reported_at", "closed_at")
        for reason, condition in window.violations(_col(f"{name}_dt"), name).items()
    ]


def _merged_lines_reason() -> pl.Expr:
    merged = pl.col(MERGED_LINES)
    return pl.when(merged.is_not_null()).then(
        pl.format("unbalanced quote: fields from lines {} merged", merged)
    )


def _coordinate_reasons() -> list[pl.Expr]:
    reasons = []
    for name, (low, high) in (("lat", LAT_RANGE), ("lon", LON_RANGE)):
        text, value = _col(name), _col(f"{name}_f")
        finite = value.is_not_null() & value.is_finite()
        reasons.append(_reason(text.is_not_null() & ~finite, f"unparseable {name}"))
        reasons.append(_reason(finite & ~value.is_between(low, high), f"{name} out of range"))
    reasons.append(_reason(_col("lat").is_null() != _col("lon").is_null(), "lat/lon incomplete"))
    return reasons


def _has_replacement_character(columns: list[str]) -> pl.Expr:
    contains = (pl.col(name).str.contains("\ufffd", literal=True) for name in _raw_columns(columns))
    return pl.any_horizontal(contains).fill_null(False)


# ---- output ----------------------------------------------------------------------------------------
def _event_columns(columns: list[str]) -> list[pl.Expr]:
    labelled = _col("leaf_leaf_id").is_not_null()
    typed = {name: _col(name) for name in COLUMN_NAMES}
    typed |= {
        "reported_at": _col("reported_at_dt"),
        "closed_at": _col("closed_at_dt"),
        "lat": _col("lat_f"),
        "lon": _col("lon_f"),
        "category_l2": pl.when(labelled).then(_col("leaf_category_l2")).otherwise(_col("category_l2")),
        "category_l3": pl.when(labelled).then(_col("leaf_category_l3")).otherwise(_col("category_l3")),
        "department": pl.coalesce(_col("department"), _col("leaf_department")),
        "leaf_id": _col("leaf_leaf_id"),
        "risk_group": _col("leaf_risk_group"),
    }
    extras = [
        pl.col(name)
        for name in _raw_columns(columns)
        if name not in COLUMN_NAMES and name not in _READER_COLUMNS
    ]
    return [expr.alias(name) for name, expr in typed.items()] + extras


def _raw_columns(columns: list[str]) -> list[str]:
    return [name for name in columns if name != "source_row"]


def load_counts(rows_read: int, events: pl.DataFrame, rejects: pl.DataFrame) -> dict[str, Any]:
    reasons = rejects.select(pl.col("reject_reason").str.split(REASON_SEPARATOR).explode()).to_series()
    by_reason = dict(sorted(reasons.value_counts().iter_rows(), key=lambda item: (-item[1], item[0])))
    return {
        "rows_read": rows_read,
        "events": events.height,
        "rejects": rejects.height,
        "labelled": events.height - events["leaf_id"].null_count(),
        "reasons": by_reason,
    }
