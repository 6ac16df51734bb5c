"""`gridsense`: one CLI for every job. Each command is a thin shell around a library function."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from training.paths import DemoPaths, project_root

app = typer.Typer(help="GridSense: classify grid event reports and forecast grid risk.", no_args_is_help=True)
train_app = typer.Typer(
    help="Train a model, log it to MLflow and register a new version.", no_args_is_help=True
)
app.add_typer(train_app, name="train")
console = Console()
T = TypeVar("T")

TaxonomyOption = Annotated[
    Path | None, typer.Option(help="Taxonomy YAML (default: the bundled GridSense taxonomy).")
]
AliasOption = Annotated[str, typer.Option(help="Registry alias to point at the new version ('' for none).")]


@contextmanager
def step(title: str):
    """Show a spinner while a long step runs, then how long it took."""
    started = time.perf_counter()
    with console.status(f"[bold]{title}[/] ..."):
        yield
    console.print(f"[green]✓[/] {title} [dim]({time.perf_counter() - started:.1f}s)[/]")


def _timed(title: str, fn: Callable[[], T]) -> T:
    with step(title):
        return fn()


@app.command("demo-data")
def demo_data(
    out: Annotated[Path | None, typer.Option(help="Output folder (default datasets/demo).")] = None,
    seed: int = 7,
    grids: int = 360,
    weeks: int = 104,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2024-01-01",
    scale: Annotated[float, typer.Option(help="Event volume multiplier.")] = 1.0,
) -> None:
    """Generate the seeded synthetic demo city (grids + two years of events with texts)."""
    from features.demo_city import generate_demo_city

    target = out or DemoPaths.under().root
    city = _timed(
        f"demo city: {grids} grids x {weeks} weeks",
        lambda: generate_demo_city(
            target, seed=seed, n_grids=grids, start=date.fromisoformat(start), weeks=weeks, scale=scale
        ),
    )
    console.print(f"  wrote {city.grids_path} and {city.events_path} ({city.n_events:,} events)")


@app.command("validate-events")
def validate_events(
    path: Path,
    taxonomy: TaxonomyOption = None,
    rejects: Annotated[Path | None, typer.Option(help="Where to write rejected rows (CSV).")] = None,
    unlabelled: Annotated[
        bool, typer.Option(help="Accept rows without categories (incoming reports).")
    ] = False,
) -> None:
    """Check an event log (CSV or Parquet) against the contract and report accepted/rejected counts."""
    from features.events import load_events
    from features.taxonomy import load_taxonomy

    loaded = load_events(
        path, load_taxonomy(taxonomy), require_labels=not unlabelled, not_after=latest_plausible_report()
    )
    _print_load_report(loaded, rejects or path.with_suffix(".rejects.csv"))


def latest_plausible_report() -> datetime:
    """Reports dated after this are rejected as typos or broken clocks. A day of slack: report times
    are local (China is UTC+8) and this machine's clock may not be."""
    return datetime.now() + timedelta(days=1)


def _print_load_report(loaded, rejects_path: Path) -> None:
    console.print(f"  accepted {loaded.events.height:,} rows, rejected {loaded.rejects.height:,}")
    if loaded.rejects.height:
        loaded.write_rejects(rejects_path)
        reasons = loaded.counts.get("reasons", {})
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1])[:10]:
            console.print(f"    {count:>7,}  {reason}")
        console.print(f"  rejected rows with reasons: {rejects_path}")


@app.command("build-features")
def build_features(
    events: Annotated[Path | None, typer.Option(help="Event log (default: the demo city's).")] = None,
    grids: Annotated[Path | None, typer.Option(help="Grid attributes (default: the demo city's).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default datasets/demo/features).")] = None,
    taxonomy: TaxonomyOption = None,
) -> None:
    """Validate the event log, then build the text training set and the grid x week panel."""
    import polars as pl

    from features.events import load_events
    from features.panel import build_panel, events_outside_grids
    from features.taxonomy import load_taxonomy
    from features.text_dataset import build_text_dataset

    demo = DemoPaths.under()
    events_path, grids_path, out_dir = events or demo.events, grids or demo.grids, out or demo.features
    out_dir.mkdir(parents=True, exist_ok=True)
    tax = load_taxonomy(taxonomy)
    loaded = _timed(
        "load + validate events",
        lambda: load_events(events_path, tax, require_labels=True, not_after=latest_plausible_report()),
    )
    _print_load_report(loaded, out_dir / "rejects.csv")
    text = _timed("text training set", lambda: build_text_dataset(loaded.events))
    text.write_parquet(out_dir / "text.parquet")
    console.print(f"  text.parquet: {text.height:,} rows; {_split_counts(text)}")
    grid_table = pl.read_parquet(grids_path)
    panel = _timed(
        "grid x week panel",
        lambda: build_panel(loaded.events, grid_table, l1_categories=tax.level1),
    )
    panel.write_parquet(out_dir / "panel.parquet")
    console.print(f"  panel.parquet: {panel.height:,} rows x {panel.width} columns")
    _warn_events_outside_grids(events_outside_grids(loaded.events, grid_table), grids_path)


def _warn_events_outside_grids(outside, grids_path: Path) -> None:
    if outside.is_empty():
        return
    shown = ", ".join(f"{grid_id} ({n:,})" for grid_id, n in outside.head(5).iter_rows())
    console.print(
        f"  [yellow]warning:[/] {outside['events'].sum():,} events of {outside.height:,} grid ids that "
        f"are not in {grids_path} are left out of the panel: {shown}"
    )


def _split_counts(text) -> str:
    counts = text.group_by("split").len().sort("split").iter_rows()
    return ", ".join(f"{split} {n:,}" for split, n in counts)


@train_app.command("text")
def train_text(
    data: Annotated[Path | None, typer.Option(help="Text training set (default: the demo's).")] = None,
    taxonomy: TaxonomyOption = None,
    alias: AliasOption = "champion",
) -> None:
    """Train the TF-IDF classifier, compare it with the majority baseline, register `gridsense-text`."""
    import polars as pl

    from features.taxonomy import load_taxonomy
    from training.tracking import use_local_store
    from training.train_text import train_text_model

    root = project_root()
    path = data or DemoPaths.under().text_dataset
    use_local_store(root, "gridsense-text")
    result = _timed(
        "train text model",
        lambda: train_text_model(
            pl.read_parquet(path), load_taxonomy(taxonomy), path, root, alias=alias or None
        ),
    )
    _print_metrics("text (test split)", result.metrics, result.baseline_metrics)
    console.print(f"  run {result.run_id}; registered gridsense-text version {result.model_version} @{alias}")


@train_app.command("risk")
def train_risk(
    panel: Annotated[Path | None, typer.Option(help="Grid x week panel (default: the demo's).")] = None,
    test_weeks: Annotated[int, typer.Option(help="Latest labelled weeks held out for evaluation.")] = 13,
    alias: AliasOption = "champion",
) -> None:
    """Train the LightGBM forecaster, compare it with history baselines, register `gridsense-risk`."""
    import polars as pl

    from training.tracking import use_local_store
    from training.train_risk import train_risk_model

    root = project_root()
    path = panel or DemoPaths.under().panel
    use_local_store(root, "gridsense-risk")
    result = _timed(
        "train risk model",
        lambda: train_risk_model(
            pl.read_parquet(path), path, root, test_weeks=test_weeks, alias=alias or None
        ),
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


@app.command()
def forecast(
    panel: Annotated[Path | None, typer.Option(help="Grid x week panel (default: the demo's).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Forecast table (default datasets/demo/forecasts/latest.parquet).")
    ] = None,
    grids: Annotated[
        Path | None, typer.Option(help="Grid attributes, for districts (default: the demo's).")
    ] = None,
    alias: str = "champion",
) -> None:
    """Score the coming week for every grid with the champion risk model; write the table the API reads."""
    import polars as pl

    from training.forecast import run_forecast
    from training.tracking import use_local_store

    demo = DemoPaths.under()
    use_local_store(project_root(), "gridsense-risk")
    table = _timed(
        "forecast coming week",
        lambda: run_forecast(
            pl.read_parquet(panel or demo.panel),
            out or demo.forecasts,
            alias=alias,
            grids=pl.read_parquet(grids or demo.grids) if (grids or demo.grids).exists() else None,
        ),
    )
    week = table.get_column("week_start").max()
    console.print(
        f"  {table.filter(pl.col('group') == 'dispute').height:,} grids forecast for the week of {week}"
    )
    if panel is None and demo.events.exists():  # the dashboard tables describe the demo city
        from training.dashboard_tables import write_dashboard_tables_from_registry

        _timed(
            "dashboard tables",
            lambda: write_dashboard_tables_from_registry(
                demo.events, grids or demo.grids, demo.root / "serving"
            ),
        )


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    demo_keys: Annotated[
        bool,
        typer.Option(
            "--demo-keys", help="Issue and print fresh demo keys for the three roles (local demo only)."
        ),
    ] = False,
) -> None:
    """Start the API (models load from the MLflow registry by alias; every route but /healthz needs a key)."""
    import os
    import tempfile

    from serving.server import run

    os.environ.setdefault("GRIDSENSE_MLFLOW_TRACKING_URI", _local_uri())
    if workers > 1:  # /metrics aggregates the workers through a shared directory
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="gridsense-metrics-"))
    if demo_keys:
        from training.cli_ops import print_demo_keys

        print_demo_keys(port)
    run(host, port, workers)


def _local_uri() -> str:
    from training.tracking import local_tracking_uri

    return local_tracking_uri(project_root())


@app.command()
def ui(port: int = 5000) -> None:
    """Browse runs and the registry in the MLflow UI, bound to loopback only."""
    import subprocess

    root = project_root()
    subprocess.run(
        [
            "mlflow",
            "ui",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            _local_uri(),
            "--default-artifact-root",
            (root / "mlruns" / "artifacts").as_uri(),
        ],
        check=False,
    )


@app.command()
def demo(
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the API at the end.")] = True,
    port: int = 8000,
    transformer: Annotated[
        bool,
        typer.Option(
            "--transformer/--no-transformer",
            help="Also fine-tune the transformer (short demo schedule) and register the cascade @challenger.",
        ),
    ] = True,
) -> None:
    """The whole slice: demo city -> features -> both models -> registry -> forecast -> API."""
    started = time.perf_counter()
    demo_data()
    build_features()
    train_text()
    if transformer:
        from training import train_transformer

        _timed(
            "transformer cascade (demo schedule) @challenger",
            lambda: train_transformer.command(schedule="demo", reuse_tfidf="champion"),
        )
    train_risk()
    forecast()
    console.print(f"[bold green]demo pipeline done in {time.perf_counter() - started:.0f}s[/]")
    console.print(CURL_EXAMPLES.format(port=port), soft_wrap=True)
    if serve_api:
        serve(port=port, demo_keys=True)


CURL_EXAMPLES = """
[bold]Try it[/] (API docs: http://127.0.0.1:{port}/docs; dashboard: http://127.0.0.1:{port}/dashboard,
log in with the supervisor key printed below):
  (paste the three `export GRIDSENSE_..._KEY=...` lines printed below first)
  curl -s -X POST http://127.0.0.1:{port}/v1/classify -H 'content-type: application/json' \\
       -H "X-API-Key: $GRIDSENSE_INTAKE_KEY" -d '{{"text": "楼道里堆满杂物，消防通道被堵死了，物业也不管"}}'
  curl -s -X POST http://127.0.0.1:{port}/v1/classify -H 'content-type: application/json' \\
       -H "X-API-Key: $GRIDSENSE_INTAKE_KEY" \\
       -d '{{"items": [{{"id": "a", "text": "楼上邻居天天半夜吵架"}}, {{"id": "b", "text": "小区门口有人占道摆摊卖水果"}}]}}'
  curl -s -H "X-API-Key: $GRIDSENSE_SUPERVISOR_KEY" 'http://127.0.0.1:{port}/v1/risk?top=10'
  curl -s -H "X-API-Key: $GRIDSENSE_SUPERVISOR_KEY" 'http://127.0.0.1:{port}/v1/risk?grid_id=G0001&grid_id=G0002'
  curl -s -H "X-API-Key: $GRIDSENSE_ADMIN_KEY" http://127.0.0.1:{port}/v1/models
"""


def _register_operations() -> None:
    from training import cli_ops

    cli_ops.register(app)


benchmark_app = typer.Typer(
    help="Measure models and the API; print and write a JSON report.", no_args_is_help=True
)
app.add_typer(benchmark_app, name="benchmark")


def _register_benchmarks() -> None:
    """Each benchmark module exposes `command`; its heavy imports stay inside the function."""
    from training.benchmarks import panel_speed, risk, serve, splits, text

    benchmark_app.command("text")(text.command)
    benchmark_app.command("text-split")(splits.command)
    benchmark_app.command("risk")(risk.command)
    benchmark_app.command("serve")(serve.command)
    benchmark_app.command("panel")(panel_speed.command)


_register_operations()  # retrain, promote, rollback, models, keys (training/cli_ops.py)
_register_benchmarks()  # gridsense benchmark text|text-split|risk|serve|panel


def _register_transformer_training() -> None:
    from training import train_transformer

    train_app.command("transformer")(train_transformer.command)


_register_transformer_training()  # gridsense train transformer (fine-tune, cascade, register @challenger)
