"""Fit the duplicate scorer on labelled report pairs, choose its thresholds, record both.

The fitted numbers and thresholds are a few numbers, so they are kept as :class:`DuplicateParams`: the
parameters and cross-validated metrics of an MLflow run (experiment ``gridsense-duplicates``, the params
JSON as its artifact) and the JSON file intake and `gridsense benchmark duplicates` read
(``models/duplicate_params.json`` by default). The pairs' texts are never logged: only a hash and counts.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from models.duplicate_pairs import LABEL_COLUMN, fingerprint, fit_params, prepared_pairs, read_pairs
from models.duplicates import PARAMS_FILE, DuplicateParams, e5_embedder, features_of
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
