"""`gridsense train text | risk | transformer`: train a model, log it to MLflow, register a version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.console import console, timed
from cli.options import (
    AliasOption,
    TaxonomyOption,
)
from core.home import DemoPaths, project_root
from core.registry import RISK_EXPERIMENT, TEXT_EXPERIMENT

app = typer.Typer(help="Train a model, log it to MLflow and register a new version.", no_args_is_help=True)


@app.command("text")
def train_text(
    data: Annotated[Path | None, typer.Option(help="Text training set (default: the demo's).")] = None,
    taxonomy: TaxonomyOption = None,
    alias: AliasOption = "champion",
) -> None:
    """Train the TF-IDF classifier, compare it with the majority baseline, register `gridsense-text`."""
    from features.files import read_parquet
    from features.taxonomy import load_taxonomy
    from features.text_dataset import TEXT_DATASET_COLUMNS
    from training.tracking import use_local_store
    from training.train_text import train_text_model

    root = project_root()
    path = (data or DemoPaths.under().text_dataset).resolve()  # recorded: promote re-reads it
    _refuse_raw_csv(path, taxonomy)
    dataset, tax = read_parquet(path, "text training set", TEXT_DATASET_COLUMNS), load_taxonomy(taxonomy)
    use_local_store(root, TEXT_EXPERIMENT)
    result = timed(
        "train text model", lambda: train_text_model(dataset, tax, path, root, alias=alias or None)
    )
    _print_metrics("text (test split)", result.metrics, result.baseline_metrics)
    console.print(f"  run {result.run_id}; registered gridsense-text version {result.model_version} @{alias}")


def _refuse_raw_csv(path: Path, taxonomy: Path | None) -> None:
    """A labelled CSV is not a training set yet: say which command makes one (not a Parquet error)."""
    if path.name.lower().endswith((".csv", ".csv.gz")):
        from core.errors import DataFileError

        option = f" --taxonomy {taxonomy}" if taxonomy else ""
        raise DataFileError(
            f"{path} is a CSV, and train text reads a built text training set (Parquet)",
            f"build it first: gridsense build-text --data {path}{option}, then pass its text.parquet",
        )


@app.command("risk")
def train_risk(
    panel: Annotated[Path | None, typer.Option(help="Grid x week panel (default: the demo's).")] = None,
    test_weeks: Annotated[int, typer.Option(help="Latest labelled weeks held out for evaluation.")] = 13,
    alias: AliasOption = "champion",
) -> None:
    """Train the LightGBM forecaster, compare it with history baselines, register `gridsense-risk`."""
    from training.tracking import use_local_store
    from training.train_risk import train_risk_model

    root = project_root()
    path = (panel or DemoPaths.under().panel).resolve()  # recorded: promote refits on it
    from features.panel import read_panel

    table = read_panel(path)
    use_local_store(root, RISK_EXPERIMENT)
    result = timed(
        "train risk model",
        lambda: train_risk_model(table, path, root, test_weeks=test_weeks, alias=alias or None),
    )
    table = Table("metric", "model", "last_week", "mean_52w", title="risk (test weeks)")
    for key in sorted(k.removeprefix("model.") for k in result.metrics if k.startswith("model.")):
        table.add_row(
            key, *(_fmt(result.metrics.get(f"{who}.{key}")) for who in ("model", "last_week", "mean_52w"))
        )
    console.print(table)
    console.print(f"  run {result.run_id}; registered gridsense-risk version {result.model_version} @{alias}")


def _fmt(value: float | None) -> str:
    """Baselines are counts, not probabilities: calibration metrics do not apply to them."""
    return "—" if value is None or value != value else f"{value:.3f}"


def _print_metrics(title: str, metrics: dict, baseline: dict) -> None:
    table = Table("metric", "model", "most-frequent baseline", title=title)
    for key, value in metrics.items():
        base = baseline.get(key)
        table.add_row(key, f"{value:.3f}", "" if base is None else f"{base:.3f}")
    console.print(table)


@app.command("transformer")
def transformer(
    data: Annotated[Path | None, typer.Option(help="Text training set (default: the demo's).")] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy YAML (default: the bundled one).")] = None,
    schedule: Annotated[str, typer.Option(help="demo (fits make demo's budget) | full.")] = "demo",
    composition: Annotated[str, typer.Option(help="What to register: cascade | transformer.")] = "cascade",
    cascade_threshold: Annotated[
        float, typer.Option(help="TF-IDF confidence that skips the transformer.")
    ] = 0.8,
    cascade_blend: Annotated[float, typer.Option(help="TF-IDF weight on the transformer path.")] = 0.5,
    reuse_tfidf: Annotated[
        str,
        typer.Option(help="Registry alias of a TF-IDF version to reuse as the fast stage ('' to fit one)."),
    ] = "",
    runtime: Annotated[
        str, typer.Option(help="Transformer inference: torch | onnx (int8; needs onnxruntime).")
    ] = "torch",
    alias: Annotated[str, typer.Option(help="Alias for the new version ('' for none).")] = "challenger",
) -> None:
    """Fine-tune the transformer (and cascade), log the run, register a new `gridsense-text` version."""
    import polars as pl

    from core.home import DemoPaths, project_root
    from features.taxonomy import load_taxonomy
    from training.tracking import use_local_store
    from training.train_transformer import registered_tfidf, train_transformer_model

    root = project_root()
    path = (data or DemoPaths.under().text_dataset).resolve()
    use_local_store(root, TEXT_EXPERIMENT)
    fast = registered_tfidf(reuse_tfidf) if reuse_tfidf else None
    result = train_transformer_model(
        pl.read_parquet(path),
        load_taxonomy(taxonomy),
        path,
        root,
        alias=alias or None,
        schedule=schedule,
        composition=composition,
        cascade_threshold=cascade_threshold,
        cascade_blend=cascade_blend,
        fast_model=fast,
        runtime=runtime,
    )
    for key in ("macro_f1_l1", "macro_f1_leaf", "accuracy_leaf", "ece_leaf", "coverage"):
        typer.echo(
            f"  {key}: {result.metrics.get(key, float('nan')):.4f} "
            f"(TF-IDF {result.baseline_metrics.get(key, float('nan')):.4f})"
        )
    typer.echo(f"  run {result.run_id}; registered gridsense-text version {result.model_version} @{alias}")
