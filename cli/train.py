"""`gridsense train text | risk | transformer`: train a model, log it to MLflow, register a version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.console import console, timed
from cli.options import AliasOption, SiteOption, TaxonomyOption
from core.errors import GridSenseUserError
from core.home import project_root
from core.registry import (
    PROVENANCE_PARAMS,
    RISK_EXPERIMENT,
    RISK_MODEL_NAME,
    TEXT_EXPERIMENT,
    TEXT_MODEL_NAME,
)
from core.settings import Settings
from core.sites import load_site

CorrectionsOption = Annotated[
    bool,
    typer.Option(
        "--corrections/--no-corrections",
        help="Add people's confirmed or corrected leaves (POST /v1/feedback) from the site's store.",
    ),
]
CorrectionWeightOption = Annotated[
    float | None,
    typer.Option(min=0.0, help="Copies of each correction (default: GRIDSENSE_FEEDBACK_WEIGHT)."),
]

app = typer.Typer(help="Train a model, log it to MLflow and register a new version.", no_args_is_help=True)


@app.command("text")
def train_text(
    data: Annotated[Path | None, typer.Option(help="Text training set (default: the site's).")] = None,
    taxonomy: TaxonomyOption = None,
    alias: AliasOption = "champion",
    site: SiteOption = None,
    corrections: CorrectionsOption = False,
    correction_weight: CorrectionWeightOption = None,
) -> None:
    """Train the TF-IDF classifier, compare it with the majority baseline, register the site's text model
    (`gridsense-text` for the demo)."""
    from features.files import read_parquet
    from features.taxonomy import load_taxonomy
    from features.text_dataset import TEXT_DATASET_COLUMNS
    from training.tracking import use_local_store
    from training.train_text import train_text_model

    root, current = project_root(), load_site(site)
    path = (data or current.paths.text_dataset).resolve()  # recorded: promote re-reads it
    taxonomy = taxonomy or current.taxonomy
    _refuse_raw_csv(path, taxonomy)
    dataset, tax = read_parquet(path, "text training set", TEXT_DATASET_COLUMNS), load_taxonomy(taxonomy)
    settings = Settings(site=current.name)
    weight = correction_weight or settings.feedback_weight
    people = _corrections(settings, weight) if corrections else None
    use_local_store(root, current.model_name(TEXT_EXPERIMENT))
    result = timed(
        "train text model",
        lambda: train_text_model(
            dataset,
            tax,
            path,
            root,
            alias=alias or None,
            site=current.name,
            corrections=people,
            correction_weight=weight,
            corrections_source=str(settings.report_store_path),
        ),
    )
    _print_metrics("text (test split)", result.metrics, result.baseline_metrics)
    _print_corrections(result.metrics)
    _print_registered(result, current.model_name(TEXT_MODEL_NAME), alias)


def _corrections(settings: Settings, weight: float):
    """People's labels from the site's feedback store (none when it does not exist yet)."""
    import polars as pl

    from core.feedback_store import SqliteFeedbackStore, StoreUnavailableError
    from features.corrections import HOLDOUT, corrections_frame

    path = settings.report_store_path
    if not path.exists():
        console.print(f"  corrections: none (no feedback store at {path})")
        return None
    store = SqliteFeedbackStore(path)
    try:
        frame = corrections_frame(store.feedback(), settings.feedback_holdout_share)
    except StoreUnavailableError as exc:
        raise GridSenseUserError(
            f"cannot read the feedback store: {exc}", "retry, or --no-corrections"
        ) from exc
    finally:
        store.close()
    held = frame.filter(pl.col("split") == HOLDOUT).height
    console.print(
        f"  corrections: {frame.height - held} to train on (x{weight:g}), {held} held out "
        f"for the gate, from {path}"
    )
    return frame


def _print_corrections(metrics: dict) -> None:
    from features.corrections import HOLDOUT

    key = f"{HOLDOUT}.accuracy"
    if key in metrics:
        console.print(
            f"  newest corrections held out: accuracy {metrics[key]:.3f} on {int(metrics[f'{HOLDOUT}.rows'])}"
        )


def _print_registered(result, name: str, alias: str) -> None:
    console.print(f"  run {result.run_id}; registered {name} version {result.model_version} @{alias}")


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
    panel: Annotated[Path | None, typer.Option(help="Grid x week panel (default: the site's).")] = None,
    test_weeks: Annotated[int, typer.Option(help="Latest labelled weeks held out for evaluation.")] = 13,
    alias: AliasOption = "champion",
    site: SiteOption = None,
) -> None:
    """Train the LightGBM forecaster, compare it with history baselines, register the site's risk model
    (`gridsense-risk` for the demo)."""
    from features.panel import read_panel
    from training.tracking import use_local_store
    from training.train_risk import train_risk_model

    root, current = project_root(), load_site(site)
    path = (panel or current.paths.panel).resolve()  # recorded: promote refits on it
    table = read_panel(path)
    use_local_store(root, current.model_name(RISK_EXPERIMENT))
    result = timed(
        "train risk model",
        lambda: train_risk_model(
            table, path, root, test_weeks=test_weeks, alias=alias or None, site=current.name
        ),
    )
    table = Table("metric", "model", "last_week", "mean_52w", title="risk (test weeks)")
    for key in sorted(k.removeprefix("model.") for k in result.metrics if k.startswith("model.")):
        table.add_row(
            key, *(_fmt(result.metrics.get(f"{who}.{key}")) for who in ("model", "last_week", "mean_52w"))
        )
    console.print(table)
    _record_panel_taxonomy(result.run_id, path)
    _print_registered(result, current.model_name(RISK_MODEL_NAME), alias)


def _record_panel_taxonomy(run_id: str, panel_path: Path) -> None:
    """The taxonomy the panel was built with (build-features keeps it in the Parquet metadata) joins the
    run's provenance (core.registry.PROVENANCE_PARAMS), as a text run's does."""
    import polars as pl
    from mlflow import MlflowClient

    metadata = pl.read_parquet_metadata(panel_path)
    client = MlflowClient()
    for key in PROVENANCE_PARAMS:
        if key.startswith("taxonomy.") and key in metadata:
            client.log_param(run_id, key, metadata[key])


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
    data: Annotated[Path | None, typer.Option(help="Text training set (default: the site's).")] = None,
    taxonomy: TaxonomyOption = None,
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
    site: SiteOption = None,
) -> None:
    """Fine-tune the transformer (and cascade), log the run, register a new version of the site's text
    model (`gridsense-text` for the demo)."""
    import polars as pl

    from features.taxonomy import load_taxonomy
    from training.tracking import use_local_store
    from training.train_transformer import registered_tfidf, train_transformer_model

    root, current = project_root(), load_site(site)
    path = (data or current.paths.text_dataset).resolve()
    use_local_store(root, current.model_name(TEXT_EXPERIMENT))
    fast = registered_tfidf(reuse_tfidf, site=current.name) if reuse_tfidf else None
    result = train_transformer_model(
        pl.read_parquet(path),
        load_taxonomy(taxonomy or current.taxonomy),
        path,
        root,
        alias=alias or None,
        schedule=schedule,
        composition=composition,
        cascade_threshold=cascade_threshold,
        cascade_blend=cascade_blend,
        fast_model=fast,
        runtime=runtime,
        site=current.name,
    )
    for key in ("macro_f1_l1", "macro_f1_leaf", "accuracy_leaf", "ece_leaf", "coverage"):
        typer.echo(
            f"  {key}: {result.metrics.get(key, float('nan')):.4f} "
            f"(TF-IDF {result.baseline_metrics.get(key, float('nan')):.4f})"
        )
    _print_registered(result, current.model_name(TEXT_MODEL_NAME), alias)
