"""MLflow plumbing for training runs: the local store, data fingerprints, registration and aliases."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from core.settings import sqlite_path, tracking_uri


def use_local_store(root: Path, experiment: str) -> str:
    """Point MLflow at the store `GRIDSENSE_MLFLOW_TRACKING_URI` names (default: SQLite under
    <root>/mlruns, artifacts beside it) and make sure `experiment` exists. Returns its id."""
    import mlflow

    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    elif sqlite_path(uri) is not None:  # a local store keeps its artifacts beside the database
        artifacts = root / "mlruns" / "artifacts" / experiment
        artifacts.mkdir(parents=True, exist_ok=True)
        experiment_id = mlflow.create_experiment(experiment, artifact_location=artifacts.resolve().as_uri())
    else:  # a tracking server decides where artifacts go
        experiment_id = mlflow.create_experiment(experiment)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


@dataclass(frozen=True)
class DataFingerprint:
    path: str
    rows: int
    time_from: str
    time_to: str
    content_hash: str

    def as_params(self, prefix: str = "data") -> dict[str, str]:
        return {f"{prefix}.{key}": str(value) for key, value in asdict(self).items()}


def fingerprint(frame: pl.DataFrame, path: str | Path, time_column: str) -> DataFingerprint:
    """Row count, time range and an order-independent content hash of a frame."""
    row_hashes = frame.hash_rows(seed=0).sort()
    digest = hashlib.sha256(row_hashes.to_numpy().tobytes()).hexdigest()[:16]
    times = frame.get_column(time_column)
    return DataFingerprint(
        path=str(path),
        rows=frame.height,
        time_from=str(times.min()),
        time_to=str(times.max()),
        content_hash=digest,
    )


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def register(model_uri: str, name: str, alias: str | None, tags: dict[str, str] | None = None) -> str:
    """Register `model_uri` as a new version of `name`; point `alias` at it. Returns the version."""
    import mlflow
    from mlflow import MlflowClient

    version = mlflow.register_model(model_uri, name, tags=tags).version
    if alias:
        MlflowClient().set_registered_model_alias(name, alias, version)
    return str(version)
