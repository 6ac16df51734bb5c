"""`gridsense`: one CLI for every job. Each command is a thin shell around a library function."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from training.cli_errors import UserErrorGroup
from training.paths import DemoPaths, project_root

# UserErrorGroup: a user error (bad file, bad option) is one line on stderr and exit code 2, no traceback.
app = typer.Typer(
    cls=UserErrorGroup,
    help="GridSense: classify grid event reports and forecast grid risk.",
    no_args_is_help=True,
)
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
EncodingOption = Annotated[
    str,
    typer.Option(
        help="CSV encoding: auto (BOM, UTF-8, else detected; GBK/GB18030 read as GB18030) or a codec name.",
        envvar="GRIDSENSE_EVENTS_ENCODING",
    ),
]
NotBeforeOption = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d"],
        help="Reject events dated before this day (default 2000-01-01: features.date_window).",
        envvar="GRIDSENSE_EVENTS_NOT_BEFORE",
    ),
]
NotAfterOption = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"],
        help="Reject events dated after this time (default: the time of loading plus one day).",
        envvar="GRIDSENSE_EVENTS_NOT_AFTER",
    ),
]
RawRejectsOption = Annotated[
    bool,
    typer.Option(
        "--raw-rejects",
        help="SENSITIVE: keep the original text in the rejects file (default: personal data redacted).",
    ),
]


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
    encoding: EncodingOption = "auto",
    not_before: NotBeforeOption = None,
    not_after: NotAfterOption = None,
    raw_rejects: RawRejectsOption = False,
) -> None:
    """Check an event log (CSV or Parquet) against the contract and report accepted/rejected counts."""
    from features.events import load_events
    from features.taxonomy import load_taxonomy

    loaded = load_events(
        path,
        load_taxonomy(taxonomy),
        require_labels=not unlabelled,
        encoding=encoding,
        window=_date_window(not_before, not_after),
    )
    _print_load_report(loaded, rejects or path.with_suffix(".rejects.csv"), raw_rejects)


def _date_window(not_before: datetime | None, not_after: datetime | None):
    from features.date_window import DEFAULT_NOT_BEFORE, DateWindow

    window = DateWindow.default(not_before or DEFAULT_NOT_BEFORE)
    return window if not_after is None else DateWindow(window.not_before, not_after)


def _print_load_report(loaded, rejects_path: Path, raw_rejects: bool = False) -> None:
    encoding = loaded.counts.get("encoding")
    read_as = f" (read as {encoding})" if encoding and encoding != "utf-8" else ""
    console.print(f"  accepted {loaded.events.height:,} rows, rejected {loaded.rejects.height:,}{read_as}")
    if loaded.rejects.height:
        loaded.write_rejects(rejects_path, raw=raw_rejects)
        reasons = loaded.counts.get("reasons", {})
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1])[:10]:
            console.print(f"    {count:>7,}  {reason}", markup=False)
        kept = "raw text, SENSITIVE" if raw_rejects else "personal data redacted"
        console.print(
            f"  rejected rows with reasons ({kept}, mode 0600): {rejects_path}", markup=False, soft_wrap=True
        )


@app.command("build-features")
def build_features(
    events: Annotated[Path | None, typer.Option(help="Event log (default: the demo city's).")] = None,
    grids: Annotated[Path | None, typer.Option(help="Grid attributes (default: the demo city's).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default datasets/demo/features).")] = None,
    taxonomy: TaxonomyOption = None,
    encoding: EncodingOption = "auto",
    not_before: NotBeforeOption = None,
    not_after: NotAfterOption = None,
    max_panel_weeks: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Refuse a panel spanning more weeks than this, lookback included "
            "(default: features.panel.MAX_PANEL_WEEKS, 30 years).",
            envvar="GRIDSENSE_MAX_PANEL_WEEKS",
        ),
    ] = None,
    raw_rejects: RawRejectsOption = False,
) -> None:
    """Validate the event log, then build the text training set and the grid x week panel."""
    from features.events import load_events
    from features.files import read_parquet
    from features.panel import GRID_COLUMNS, MAX_PANEL_WEEKS, build_panel, events_outside_grids
    from features.taxonomy import load_taxonomy
    from features.text_dataset import build_text_dataset

    demo = DemoPaths.under()
    events_path, grids_path, out_dir = events or demo.events, grids or demo.grids, out or demo.features
    tax = load_taxonomy(taxonomy)
    grid_table = read_parquet(grids_path, "grid table", GRID_COLUMNS)  # before the long steps
    window = _date_window(not_before, not_after)
    loaded = _timed(
        "load + validate events",
        lambda: load_events(events_path, tax, require_labels=True, encoding=encoding, window=window),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    _print_load_report(loaded, out_dir / "rejects.csv", raw_rejects)
    if loaded.events.is_empty():
        from features.errors import DataFileError

        raise DataFileError(
            f"{events_path}: no valid events", f"see the reasons in {out_dir / 'rejects.csv'}"
        )
    text = _timed("text training set", lambda: build_text_dataset(loaded.events))
    text.write_parquet(out_dir / "text.parquet")
    console.print(f"  text.parquet: {text.height:,} rows; {_split_counts(text)}")
    panel = _timed(
        "grid x week panel",
        lambda: build_panel(
            loaded.events, grid_table, l1_categories=tax.level1, max_weeks=max_panel_weeks or MAX_PANEL_WEEKS
        ),
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
    from features.files import read_parquet
    from features.taxonomy import load_taxonomy
    from features.text_dataset import TEXT_DATASET_COLUMNS
    from training.tracking import use_local_store
    from training.train_text import train_text_model

    root = project_root()
    path = data or DemoPaths.under().text_dataset
    dataset, tax = read_parquet(path, "text training set", TEXT_DATASET_COLUMNS), load_taxonomy(taxonomy)
    use_local_store(root, "gridsense-text")
    result = _timed(
        "train text model", lambda: train_text_model(dataset, tax, path, root, alias=alias or None)
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
    from training.tracking import use_local_store
    from training.train_risk import train_risk_model

    root = project_root()
    path = panel or DemoPaths.under().panel
    table = _read_panel(path)
    use_local_store(root, "gridsense-risk")
    result = _timed(
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


def _read_panel(path: Path):
    from features.files import read_parquet
    from features.panel import LABEL_COLUMNS, PANEL_KEYS

    return read_parquet(path, "panel", (*PANEL_KEYS, *LABEL_COLUMNS))


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
    keep_raw_report_text: Annotated[
        bool,
        typer.Option(
            help="Also keep the recent reports' unredacted text for data_scientist keys (personal data; "
            "docs/OPERATIONS.md, Personal data)."
        ),
    ] = False,
) -> None:
    """Score the coming week for every grid with the champion risk model; write the table the API reads."""
    import polars as pl

    from features.files import read_parquet
    from training.forecast import run_forecast
    from training.tracking import use_local_store

    demo = DemoPaths.under()
    panel_table = _read_panel(panel or demo.panel)
    grids_path = grids or demo.grids
    grid_table = read_parquet(grids_path, "grid table", ["grid_id"]) if grids or grids_path.exists() else None
    use_local_store(project_root(), "gridsense-risk")
    table = _timed(
        "forecast coming week",
        lambda: run_forecast(panel_table, out or demo.forecasts, alias=alias, grids=grid_table),
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
                demo.events, grids or demo.grids, demo.root / "serving", keep_raw_text=keep_raw_report_text
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
    header_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds for a request's line and headers (default GRIDSENSE_HEADER_TIMEOUT_SECONDS)."
        ),
    ] = None,
    body_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds for a request's body (default GRIDSENSE_BODY_TIMEOUT_SECONDS)."),
    ] = None,
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
    run(host, port, workers, header_timeout, body_timeout)


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
    from training.benchmarks import panel_speed, redaction, risk, serve, splits, text

    benchmark_app.command("text")(text.command)
    benchmark_app.command("text-split")(splits.command)
    benchmark_app.command("risk")(risk.command)
    benchmark_app.command("serve")(serve.command)
    benchmark_app.command("panel")(panel_speed.command)
    benchmark_app.command("redaction")(redaction.command)


_register_operations()  # retrain, promote, rollback, models, keys (training/cli_ops.py)
_register_benchmarks()  # gridsense benchmark text|text-split|risk|serve|panel|redaction


def _register_transformer_training() -> None:
    from training import train_transformer

    train_app.command("transformer")(train_transformer.command)


_register_transformer_training()  # gridsense train transformer (fine-tune, cascade, register @challenger)
