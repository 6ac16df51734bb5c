"""Where traffic comes from, and its windows of N reports.

- A batch of reports: CSV or Parquet files with `text` (and optionally `title`, `reported_at`, `split`,
  `corrected_leaf_id`), read in the order given; a file with `reported_at` everywhere is sorted by it, and
  a time range (`since` <= reported_at < `until`) keeps the reports in it (every report must be dated).
  `corrected_leaf_id` is the dispatchers' feedback hook: non-null where a person confirmed or corrected
  the label. They are scored by the text model (:func:`monitoring.scoring.score_reports`).
- The API's drift log: JSON lines the API appends as it classifies (:mod:`monitoring.drift_log`), already
  scored, without texts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from core.errors import DataFileError, require_file
from features.events import parse_datetimes
from features.files import read_csv_text, read_parquet, require_columns
from monitoring.scoring import ScoredReports

CORRECTION_COLUMN = "corrected_leaf_id"


def load_reports(
    paths: Sequence[Path],
    split: str | None = None,
    shuffle_seed: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    what: str = "the traffic files",
) -> pl.DataFrame:
    """`title`, `text`, `reported_at` (as text), `corrected_leaf_id` (null where absent) of every report, in
    traffic order.
    `shuffle_seed` shuffles the rows of each file (the files stay in order): an undated labelled set is
    often sorted by label, and its windows would differ from each other for that reason alone.
    `since` (inclusive) and `until` (exclusive) keep the reports dated in that range."""
    frames = [_one_file(Path(path), split, since, until) for path in paths]
    if shuffle_seed is not None:
        frames = [frame.sample(fraction=1.0, shuffle=True, seed=shuffle_seed) for frame in frames]
    reports = pl.concat(frames, how="vertical") if frames else pl.DataFrame()
    if reports.height == 0:
        chosen = [f"split {split}" if split else "", _range_text(since, until)]
        raise DataFileError(
            f"{what} hold no reports" + (f" ({', '.join(c for c in chosen if c)})" if any(chosen) else ""),
            "check the files, the split and the time range",
        )
    return reports


def _one_file(path: Path, split: str | None, since: datetime | None, until: datetime | None) -> pl.DataFrame:
    frame = (
        read_parquet(path, "reports file")
        if path.suffix.lower() == ".parquet"
        else read_csv_text(path, "reports file")
    )
    require_columns(frame, ["text"], f"reports file {path}")
    if split is not None and "split" in frame.columns:
        frame = frame.filter(pl.col("split") == split)
    if since is not None or until is not None:
        frame = _in_time_range(frame, path, since, until)
    elif (
        "reported_at" in frame.columns and frame.height and frame.get_column("reported_at").null_count() == 0
    ):
        frame = frame.sort("reported_at", maintain_order=True)
    columns = {"title": pl.String, "text": pl.String, "reported_at": pl.String, CORRECTION_COLUMN: pl.String}
    return frame.select(
        [
            pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in columns.items()
        ]
    )


def _in_time_range(
    frame: pl.DataFrame, path: Path, since: datetime | None, until: datetime | None
) -> pl.DataFrame:
    """The reports with `since` <= reported_at < `until`, sorted by time; every report must be dated."""
    if "reported_at" not in frame.columns:
        raise DataFileError(
            f"reports file {path} has no reported_at column", "a time range needs dated reports"
        )
    times = _datetimes(frame.get_column("reported_at"))
    if times.null_count():
        raise DataFileError(
            f"{times.null_count():,} of {frame.height:,} reports in {path} have no readable reported_at",
            "a time range needs every report dated",
        )
    keep = pl.repeat(True, frame.height, eager=True)
    if since is not None:
        keep &= times >= since
    if until is not None:
        keep &= times < until
    return (
        frame.with_columns(times.alias("_time")).filter(keep).sort("_time", maintain_order=True).drop("_time")
    )


def _datetimes(values: pl.Series) -> pl.Series:
    """Naive datetimes (a zoned column keeps its wall-clock time) from a datetime, date or text column."""
    if values.dtype == pl.String:
        return parse_datetimes(values)
    if isinstance(values.dtype, pl.Datetime):
        return values.dt.replace_time_zone(None) if values.dtype.time_zone else values
    if values.dtype == pl.Date:
        return values.cast(pl.Datetime)
    return parse_datetimes(values.cast(pl.String))


def _range_text(since: datetime | None, until: datetime | None) -> str:
    if since is None and until is None:
        return ""
    return f"from {since or 'the start'} until {until or 'the end'}"


def corrections(reports: pl.DataFrame, predicted_leaf: np.ndarray) -> np.ndarray | None:
    """1.0 where a person changed the predicted leaf, 0.0 where they confirmed it, nan without feedback;
    None when no report has feedback."""
    given = reports.get_column(CORRECTION_COLUMN).to_numpy()
    has = np.array([value is not None for value in given])
    if not has.any():
        return None
    changed = np.array([str(value) != str(leaf) for value, leaf in zip(given, predicted_leaf, strict=True)])
    return np.where(has, changed.astype(float), np.nan)


def load_drift_log(path: Path) -> ScoredReports:
    """The reports the API classified, from its drift log (torn lines skipped)."""
    path = require_file(path, "drift log")
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    if not rows:
        raise DataFileError(
            f"drift log {path} holds no reports", "classify some reports through the API first"
        )
    return ScoredReports(
        category_l1=np.array([row.get("category_l1", "") for row in rows], dtype=object),
        leaf_id=np.array([row.get("leaf_id", "") for row in rows], dtype=object),
        confidence=np.array([row.get("confidence", np.nan) for row in rows], dtype=float),
        needs_review=np.array([bool(row.get("needs_review")) for row in rows], dtype=bool),
        length=np.array([_number(row.get("length")) for row in rows], dtype=float),
        unseen_share=np.array([_number(row.get("unseen_share")) for row in rows], dtype=float),
    )


def _number(value: object) -> float:
    return np.nan if value is None else float(value)


@dataclass(frozen=True)
class Window:
    index: int
    start: int  # first report (0-based, in traffic order)
    stop: int  # one past the last


def windows(total: int, size: int, step: int | None = None) -> list[Window]:
    """Windows of `size` reports, one every `step` reports (default `size`: consecutive windows).

    Consecutive windows keep a last, shorter one when it has half a window. With a smaller step each window
    is the latest `size` reports at every `step`-th report (as the API's gauges see them), and a last one
    ends at the final report when at least half a step of reports came after the previous one; so a
    drift is judged at most `step` reports after it fills enough of a window, wherever it starts."""
    step = size if step is None else step
    if size < 1:
        raise ValueError("a window needs at least one report")
    if not 1 <= step <= size:
        raise ValueError(f"the step must be between 1 and the window ({size}), not {step}")
    if step == size or total <= size:
        bounds = [(start, min(start + size, total)) for start in range(0, total, size)]
        if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < size / 2:
            bounds.pop()
    else:
        stops = list(range(size, total + 1, step))
        if total - stops[-1] >= step / 2:
            stops.append(total)
        bounds = [(stop - size, stop) for stop in stops]
    return [Window(index, start, stop) for index, (start, stop) in enumerate(bounds)]
