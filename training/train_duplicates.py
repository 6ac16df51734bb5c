"""Fit the duplicate scorer on labelled report pairs, choose its thresholds, record both.

The fitted numbers and thresholds are a few numbers, so they are kept as :class:`DuplicateParams`: the
parameters and cross-validated metrics of an MLflow run (experiment ``gridsense-duplicates``, the params
JSON as its artifact) and the JSON file intake and `gridsense benchmark duplicates` read
(``models/duplicate_params.json`` by default). The pairs' texts are never logged: only a hash and counts.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from core.errors import DataFileError
from models.duplicate_pairs import LABEL_COLUMN, fingerprint, fit_params, prepared_pairs, read_pairs
from models.duplicates import (
    CONTEXT_PARAMS_FILE,
    PARAMS_FILE,
    DuplicateParams,
    context_features,
    e5_embedder,
    features_of,
    pair_features,
    prepare,
)
from models.grid_neighbours import GridNeighbours
from training.tracking import git_commit, use_local_store

logger = logging.getLogger(__name__)

DUPLICATES_EXPERIMENT = "gridsense-duplicates"


def train_duplicates(
    pairs_path: Path,
    root: Path,
    out: Path = PARAMS_FILE,
    min_precision: float = 0.95,
    use_embeddings: bool = False,
    track: bool = True,
) -> DuplicateParams:
    """Fit on every labelled pair of `pairs_path`, write the params to `out`, log an MLflow run."""
    frame = read_pairs(pairs_path, require_labels=True).filter(pl.col(LABEL_COLUMN).is_not_null())
    pairs = prepared_pairs(frame)
    X = features_of(pairs, e5_embedder() if use_embeddings else None)
    y = frame.get_column(LABEL_COLUMN).to_numpy().astype(int)
    params = fit_params(X, y, use_embeddings, min_precision, fingerprint(Path(pairs_path), frame))
    if track:
        params = replace(params, mlflow_run_id=_log_run(params, root, min_precision))
    out.write_text(params.to_json(), encoding="utf-8")
    return params


def _log_run(params: DuplicateParams, root: Path, min_precision: float) -> str:
    import mlflow

    use_local_store(root, DUPLICATES_EXPERIMENT)
    with mlflow.start_run(run_name="duplicates") as run:
        mlflow.log_params({f"coef.{name}": value for name, value in params.coef.items()})
        mlflow.log_params(
            {
                "intercept": params.intercept,
                "duplicate_threshold": params.duplicate_threshold,
                "related_threshold": params.related_threshold,
                "use_embeddings": params.use_embeddings,
                "min_precision": min_precision,
                **{f"data.{key}": value for key, value in params.fitted_on.items()},
            }
        )
        mlflow.log_metrics({key: float(value) for key, value in params.metrics.items() if np.isfinite(value)})
        mlflow.set_tag("git_commit", git_commit(root))
        mlflow.log_text(replace(params, mlflow_run_id=run.info.run_id).to_json(), "duplicate_params.json")
        return run.info.run_id


def leaf_of(frame: pl.DataFrame) -> pl.Series:
    """The log's category path as a leaf id (what the classifier's leaf stands in for)."""
    parts = [c for c in ("category_l1", "category_l2", "category_l3") if c in frame.columns]
    if not parts:
        return pl.Series("leaf", [None] * frame.height, dtype=pl.String)
    return frame.select(pl.concat_str([pl.col(c).fill_null("") for c in parts], separator="/")).to_series()


def context_pairs(
    frame: pl.DataFrame, neighbours: GridNeighbours, window_days: float = 7.0, limit: int = 400_000
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs intake's search sees (a report and each earlier one within the window in its grid or
    a neighbouring one) as FEATURES + CONTEXT_FEATURES, labelled 1 when they share an incident id."""
    rows = frame.with_columns(leaf_of(frame).alias("_leaf")).sort("reported_at").to_dicts()
    prepared = [prepare(row.get("title"), row["text"]) for row in rows]
    window = timedelta(days=window_days)
    X, y = [], []
    for i, row in enumerate(rows):
        for j in range(i - 1, -1, -1):
            other = rows[j]
            if row["reported_at"] - other["reported_at"] > window:
                break
            if other["grid_id"] not in neighbours.of(row["grid_id"]):
                continue
            days = (row["reported_at"] - other["reported_at"]).total_seconds() / 86_400
            context = context_features(row["_leaf"], other["_leaf"], row["grid_id"], other["grid_id"], days)
            X.append(np.concatenate([pair_features(prepared[i], prepared[j]), context]))
            y.append(int(row["incident_id"] == other["incident_id"]))
        if len(y) >= limit:
            break
    return np.array(X), np.array(y)


def train_duplicates_context(
    events: Path,
    grids: Path,
    root: Path,
    out: Path = CONTEXT_PARAMS_FILE,
    test_weeks: int = 13,
    train_weeks: int = 8,
    min_precision: float = 0.95,
    track: bool = True,
    gap_weeks: int = 0,
) -> DuplicateParams:
    """Fit the context scorer on a log with incident ids (the demo city): the `train_weeks` weeks that end
    `gap_weeks` before the last `test_weeks` (kept for `gridsense benchmark duplicates-demo`). A gap keeps
    the phrasings that appear only late in the log out of training (the demo's late templates: 13 weeks)."""
    frame = valid_reports(pl.read_parquet(events))
    end = frame.get_column("reported_at").max()
    train_to = end - timedelta(weeks=test_weeks + gap_weeks)
    train_from = train_to - timedelta(weeks=train_weeks)
    train = frame.filter((pl.col("reported_at") >= train_from) & (pl.col("reported_at") < train_to))
    X, y = context_pairs(train, GridNeighbours.from_file(grids))
    fitted_on = {
        "events": str(events),
        "pairs": len(y),
        "positives": int(y.sum()),
        "train_from": str(train_from),
        "train_to": str(train_to),
    }
    params = fit_params(X, y, False, min_precision, fitted_on, context=True, repeats=1)
    if track:
        params = replace(params, mlflow_run_id=_log_run(params, root, min_precision))
    out.write_text(params.to_json(), encoding="utf-8")
    return params


def valid_reports(frame: pl.DataFrame) -> pl.DataFrame:
    """Reports with text and an incident id, invalid ones (`invalid_reason` set) left out."""
    if "incident_id" not in frame.columns:
        raise DataFileError("the event log has no incident_id column", "a demo log (gridsense demo-data)")
    if "invalid_reason" in frame.columns:
        frame = frame.filter(pl.col("invalid_reason").is_null())
    return frame.filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != "")).sort(
        "reported_at"
    )
