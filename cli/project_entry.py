"""Entry point of the MLflow Project (`MLproject`): retrain a model and register it as `challenger`.

    MLFLOW_TRACKING_URI=sqlite:///mlruns/mlflow.db \\
        mlflow run . -e train_text -P data=datasets/demo/features/text.parquet --env-manager local

When `mlflow run` tracks into the project's store (the command above), the training logs into the run
`mlflow run` opened. When it tracks elsewhere (no MLFLOW_TRACKING_URI: MLflow's default store), the
training still goes to the project's store, as a new run tagged with the outer run's id, because
serving and `gridsense promote` read that store.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from core.home import project_root
from core.registry import RISK_EXPERIMENT, TEXT_EXPERIMENT
from core.settings import resolve_tracking_uri, tracking_uri
from core.sites import Site, load_site
from training.tracking import use_local_store

EXPERIMENTS = {"text": TEXT_EXPERIMENT, "risk": RISK_EXPERIMENT}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(EXPERIMENTS))
    parser.add_argument("--data", type=Path, default=None, help="text training set or grid x week panel")
    parser.add_argument("--taxonomy", type=Path, default=None, help="text only: taxonomy YAML")
    parser.add_argument("--test-weeks", type=int, default=13, help="risk only: held-out weeks")
    args = parser.parse_args(argv)

    root, site = project_root(), load_site()  # GRIDSENSE_SITE
    outer_run = _attach_to_store(root, site.model_name(EXPERIMENTS[args.kind]))
    if args.kind == "text":
        result = _train_text(root, site, args.data, args.taxonomy)
    else:
        result = _train_risk(root, site, args.data, args.test_weeks)
    if outer_run and outer_run != result.run_id:
        print(f"`mlflow run` opened run {outer_run} in another store; the training run is {result.run_id}")
    print(f"run {result.run_id}: registered version {result.model_version} as challenger")


def _attach_to_store(root: Path, experiment: str) -> str | None:
    """Track into the project's store; keep `mlflow run`'s run only if it lives there too."""
    import mlflow

    outer_run = os.environ.get("MLFLOW_RUN_ID")
    local = tracking_uri(root)
    outer_store = resolve_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", ""), Path.cwd())
    if outer_run and outer_store == local:
        mlflow.set_tracking_uri(local)
        mlflow.set_registry_uri(local)
        return outer_run
    os.environ.pop("MLFLOW_RUN_ID", None)
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    use_local_store(root, experiment)
    return outer_run


def _train_text(root: Path, site: Site, data: Path | None, taxonomy_path: Path | None):
    import polars as pl

    from features.taxonomy import load_taxonomy
    from training.train_text import train_text_model

    path = data or site.paths.text_dataset
    taxonomy = load_taxonomy(taxonomy_path or site.taxonomy)
    return train_text_model(pl.read_parquet(path), taxonomy, path, root, alias="challenger", site=site.name)


def _train_risk(root: Path, site: Site, data: Path | None, test_weeks: int):
    import polars as pl

    from training.train_risk import train_risk_model

    path = data or site.paths.panel
    return train_risk_model(
        pl.read_parquet(path), path, root, test_weeks=test_weeks, alias="challenger", site=site.name
    )


if __name__ == "__main__":
    main()
