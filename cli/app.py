"""`gridsense`: one CLI for every job. Each command is a thin shell around a library function; the commands
live in the modules of this package by concern and are registered here."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from cli import (
    audit,
    batch,
    benchmarks,
    data,
    duplicates,
    feedback,
    ingest,
    monitor,
    ops,
    serve,
    taxonomy,
    train,
)
from cli import hot_issues as hot_issues_cli
from cli import invalid as invalid_cli
from cli.console import console, timed
from cli.errors import UserErrorGroup
from cli.site import app as site_app
from cli.text_data import build_text
from core.registry import DEMO_SITE

# UserErrorGroup: a user error (bad file, bad option) is one line on stderr and exit code 2, no traceback.
app = typer.Typer(
    cls=UserErrorGroup,
    help="GridSense: classify grid event reports and forecast grid risk.",
    no_args_is_help=True,
)


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
    """The whole slice: demo city -> features -> both models -> registry -> forecast -> API (always the
    demo site, whatever GRIDSENSE_SITE says)."""
    started = time.perf_counter()
    data.demo_data()
    data.build_features(site=DEMO_SITE)
    train.train_text(site=DEMO_SITE)
    if transformer:
        timed(
            "transformer cascade (demo schedule) @challenger",
            lambda: train.transformer(schedule="demo", reuse_tfidf="champion", site=DEMO_SITE),
        )
    train.train_risk(site=DEMO_SITE)
    invalid_cli.train_invalid(site=DEMO_SITE)  # intake's invalid verdicts and the hot-issue job use it
    batch.forecast(site=DEMO_SITE)
    hot_issues_cli.hot_issues(site=DEMO_SITE)  # the dashboard's 本周热点问题
    console.print(f"[bold green]demo pipeline done in {time.perf_counter() - started:.0f}s[/]")
    console.print(CURL_EXAMPLES.format(port=port), soft_wrap=True)
    if serve_api:
        serve.serve(port=port, demo_keys=True, site=DEMO_SITE)


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


app.command("demo-data")(data.demo_data)
app.command()(ingest.ingest)
app.command("validate-events")(data.validate_events)
app.command("build-features")(data.build_features)
app.command("build-text")(build_text)
app.add_typer(train.app, name="train")
app.command()(batch.forecast)
app.command("classify-log")(batch.classify_log)
app.command()(serve.serve)
app.command()(serve.ui)
app.command()(demo)
benchmarks.app.command("duplicates")(duplicates.benchmark_duplicates)
benchmarks.app.command("intake")(duplicates.benchmark_intake)
benchmarks.app.command("duplicates-demo")(duplicates.benchmark_duplicates_demo)
train.app.command("duplicates")(duplicates.train_duplicates)
train.app.command("duplicates-context")(duplicates.train_duplicates_context)
train.app.command("invalid")(invalid_cli.train_invalid)
benchmarks.app.command("hot-issues")(hot_issues_cli.benchmark_hot_issues)
benchmarks.app.command("corrections")(feedback.benchmark_corrections)
app.command("export-feedback")(feedback.export_feedback)
app.command("hot-issues")(hot_issues_cli.hot_issues)
app.add_typer(benchmarks.app, name="benchmark")
app.add_typer(taxonomy.app, name="taxonomy")
app.add_typer(site_app, name="site")
ops.register(app)  # retrain, promote, rollback, models, keys
app.add_typer(audit.app, name="audit")
app.command()(monitor.monitor)
