"""Where traffic comes from, and its windows of N reports.

- A batch of reports: CSV or Parquet files with `text` (and optionally `title`, `reported_at`, `split`,
  `corrected_leaf_id`), read in the order given; a file with `reported_at` everywhere is sorted by it.
  `corrected_leaf_id` is the dispatchers' feedback hook: non-null where a person confirmed or corrected
  the label. They are scored by the text model (:func:`monitoring.scoring.score_reports`).
- The API's drift log: JSON lines the API appends as it classifies (:mod:`monitoring.drift_log`), already
  scored, without texts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from core.errors import DataFileError, require_file
from features.files import read_csv_text, read_parquet, require_columns
from monitoring.scoring import ScoredReports

CORRECTION_COLUMN = "corrected_leaf_id"


def load_reports(
    paths: Sequence[Path], split: str | None = None, shuffle_seed: int | None = None
) -> pl.DataFrame:
    """`title`, `text`, `reported_at` (as text), `corrected_leaf_id` (null where absent) of every report, in
    traffic order.
    `shuffle_seed` shuffles the rows of each file (the files stay in order): an undated labelled set is
    often sorted by label, and its windows would differ from each other for that reason alone."""
    frames = [_one_file(Path(path), split) for path in paths]
    if shuffle_seed is not None:
        frames = [frame.sample(fraction=1.0, shuffle=True, seed=shuffle_seed) for frame in frames]
    reports = pl.concat(frames, how="vertical") if frames else pl.DataFrame()
    if reports.height == 0:
        raise DataFileError("the traffic files hold no reports", "check the files and --split")
    return reports


def _one_file(path: Path, split: str | None) -> pl.DataFrame:
    frame = (
        read_parquet(path, "reports file")
        if path.suffix.lower() == ".parquet"
        else read_csv_text(path, "reports file")
    )
    require_columns(frame, ["text"], f"reports file {path}")
    if split is not None and "split" in frame.columns:
        frame = frame.filter(pl.col("split") == split)
    if "reported_at" in frame.columns and frame.height and frame.get_column("reported_at").null_count() == 0:
        frame = frame.sort("reported_at", maintain_order=True)
    columns = {"title": pl.String, "text": pl.String, "reported_at": pl.String, CORRECTION_COLUMN: pl.String}
    return frame.select(
        [
            pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in columns.items()
        ]
    )


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


def windows(total: int, size: int) -> list[Window]:
    """Consecutive windows of `size` reports; a last, shorter one is kept when it has half a window."""
    if size < 1:
        raise ValueError("a window needs at least one report")
    bounds = [(start, min(start + size, total)) for start in range(0, total, size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < size / 2:
        bounds.pop()
    return [Window(index, start, stop) for index, (start, stop) in enumerate(bounds)]
