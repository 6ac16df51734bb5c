"""`gridsense benchmark ...`: the typer shells of the benchmarks in `evaluation/` (each imports its module
when it runs, so `gridsense --help` stays fast)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.console import print_result

app = typer.Typer(help="Measure models and the API; print and write a JSON report.", no_args_is_help=True)


@app.command("panel")
def panel(
    events: Annotated[int, typer.Option(help="Events in the synthetic log.")] = 1_000_000,
    units: Annotated[int, typer.Option("--units", "--grids", help="Units (cells, grids).")] = 650,
    weeks: Annotated[int, typer.Option(help="Weeks of log.")] = 156,
    repeats: Annotated[int, typer.Option(help="Runs; the fastest is reported.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Also write the result as JSON here.")] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="polars | spark: time the whole job (read the log, panel, partitioned Parquet) in a child "
            "process, with its peak memory (evaluation/engine_speed.py); default: the panel alone, in memory."
        ),
    ] = None,
) -> None:
    """Time the grid x week panel on a large synthetic event log."""
    from evaluation.panel_speed import time_panel

    if engine is not None:
        from engines import resolve_engine
        from evaluation.engine_speed import time_engine_panel

        result = time_engine_panel(resolve_engine(engine), events, units, weeks)
    else:
        result = time_panel(events, units, weeks, repeats)
    print_result(result, out)


@app.command("text")
def text(
    train: Annotated[Path, typer.Option(help="Training CSV: id, title, text, label.")],
    test: Annotated[Path, typer.Option(help="Test CSV: id, title, text, label.")],
    out: Annotated[Path, typer.Option(help="Where to write the JSON report.")],
    model: Annotated[str, typer.Option(help="tfidf | transformer | cascade | all")] = "all",
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy YAML (default: the bundled one).")] = None,
    schedule: Annotated[str, typer.Option(help="Transformer schedule: full | demo.")] = "full",
    layers: Annotated[
        int | None, typer.Option(help="Transformer layers kept (default: the schedule's).")
    ] = None,
    max_length: Annotated[
        int | None, typer.Option(help="Tokens read per report (default: the schedule's).")
    ] = None,
    epochs: Annotated[
        float | None, typer.Option(help="Fine-tuning epochs (default: the schedule's).")
    ] = None,
    quantize: Annotated[bool, typer.Option(help="Dynamic int8 linear layers after fine-tuning.")] = False,
    threads: Annotated[int, typer.Option(help="torch intra-op threads.")] = 1,
    max_train_minutes: Annotated[float | None, typer.Option(help="Stop fine-tuning after this long.")] = None,
    transformer_model: Annotated[
        Path | None, typer.Option(help="Use this fitted transformer (joblib) instead of training one.")
    ] = None,
    cascade_threshold: Annotated[
        float, typer.Option(help="TF-IDF confidence that skips the transformer.")
    ] = 0.8,
    blend: Annotated[float, typer.Option(help="TF-IDF weight in the cascade's transformer path.")] = 0.5,
    tfidf: Annotated[
        str, typer.Option(help="TF-IDF vectoriser: numpy (character n-grams) | sklearn (char_wb).")
    ] = "numpy",
    lead_weight: Annotated[
        float, typer.Option(help="TF-IDF: weight of the lead sentence's n-gram block (0: none).")
    ] = 0.5,
    runtime: Annotated[
        str, typer.Option(help="Transformer inference: torch | onnx (needs onnxruntime).")
    ] = "torch",
    encoder_dir: Annotated[
        Path | None,
        typer.Option(
            help="A local transformers checkpoint to fine-tune "
            "(default: the converted multilingual-e5-small)."
        ),
    ] = None,
) -> None:
    """Train and compare text classifiers on a train/test CSV pair; print and write a JSON report."""
    from evaluation.text_benchmark import (
        MODELS,
        TransformerOptions,
        json_default,
        machine,
        read_text_set,
        report_json,
        run_benchmark,
    )
    from features.taxonomy import load_taxonomy

    if tfidf not in ("sklearn", "numpy"):
        raise typer.BadParameter(f"unknown TF-IDF vectoriser {tfidf!r}; choose sklearn or numpy")
    if runtime not in ("torch", "onnx"):
        raise typer.BadParameter(f"unknown runtime {runtime!r}; choose torch or onnx")
    models = list(MODELS) if model == "all" else [name.strip() for name in model.split(",")]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise typer.BadParameter(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)} or all")
    tax = load_taxonomy(taxonomy)
    train_set, test_set = read_text_set(train), read_text_set(test)
    options = TransformerOptions(
        schedule,
        layers,
        max_length,
        epochs,
        quantize,
        threads,
        max_train_minutes,
        transformer_model,
        cascade_threshold,
        blend,
        encoder_dir,
        runtime,
        tfidf,
        lead_weight,
    )
    started_at, before = datetime.now().isoformat(timespec="seconds"), machine()
    reports = run_benchmark(train_set, test_set, tax, models, options, typer.echo)
    payload = {
        "started_at": started_at,
        "train": str(train),
        "test": str(test),
        "train_rows": len(train_set.texts),
        "test_rows": len(test_set.texts),
        "taxonomy": {"name": tax.name, "version": tax.version, "leaves": len(tax.leaves)},
        "machine": {**before, "load_average_1m_end": machine()["load_average_1m"]},
        "models": {report.name: report_json(report) for report in reports},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, ensure_ascii=False, indent=1, default=json_default), encoding="utf-8")
    typer.echo(f"report written to {out}")


@app.command("text-split")
def text_split(
    source: Annotated[
        Path | None,
        typer.Argument(
            help="Labelled CSV (id, title, text, label), or a text "
            "training set (.parquet, split kept); omit for a small "
            "demo city split by time."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default .cache/gridsense/benchmarks/NAME).")
    ] = None,
    test_share: float = 0.2,
    seed: int = 0,
    label_column: Annotated[
        str, typer.Option(help="The CSV column holding the class (written as `label`).")
    ] = "label",
) -> None:
    """Write train.csv/test.csv for `gridsense benchmark text` (grouped by identical text, stratified)."""
    from evaluation.text_splits import demo_city_split, split_csv, text_dataset_split

    if source is None:
        files = demo_city_split(out, test_share=test_share)
    elif source.suffix == ".parquet":
        files = text_dataset_split(source, out)
    else:
        files = split_csv(source, out, test_share, seed, label_column)
    typer.echo(
        f"train {files.train_rows:,} rows -> {files.train}\ntest  {files.test_rows:,} rows -> {files.test}"
    )
    if files.unlabelled_rows:
        typer.echo(f"left out {files.unlabelled_rows:,} rows without a {label_column}")


@app.command("risk")
def risk(
    adapter: Annotated[str, typer.Option(help="gridsense, chicago, sweden, or an adapter YAML file.")],
    events: Annotated[Path, typer.Option(help="The event log (CSV, CSV.GZ or Parquet).")],
    test_from: Annotated[
        str, typer.Option(help="First test day, YYYY-MM-DD: test weeks are the Mondays from it.")
    ],
    out: Annotated[Path, typer.Option(help="Report (JSON).")] = Path("risk_report.json"),
    test_to: Annotated[
        str | None,
        typer.Option(help="Last test day: weeks must end by it (default: the log's last complete week)."),
    ] = None,
    cell_size_m: Annotated[float | None, typer.Option(help="Cell size of lat/lon adapters, metres.")] = None,
    retrain_every: Annotated[int, typer.Option(help="Retrain every N test weeks (1 = every week).")] = 1,
    objective: Annotated[
        str | None, typer.Option(help="binary, poisson or tweedie (default: the adapter's).")
    ] = None,
    units: Annotated[
        Path | None, typer.Option(help="Grids / areas file (default: next to the events).")
    ] = None,
    model_params: Annotated[
        str | None,
        typer.Option(help='Forecaster parameters as JSON, e.g. \'{"offset": "ewm_{group}_h26"}\'.'),
    ] = None,
    text_model: Annotated[
        bool,
        typer.Option(help="GridSense logs: count the text model's (gridsense-text@champion) predicted L2."),
    ] = False,
    ablation: Annotated[bool, typer.Option(help="Also run the feature-family ablation.")] = False,
    ablation_retrain_every: Annotated[
        int, typer.Option(help="Retraining interval of the ablation runs.")
    ] = 4,
    plots_dir: Annotated[Path, typer.Option(help="Where the plots go besides MLflow.")] = Path("docs/img"),
    mlflow_log: Annotated[bool, typer.Option("--mlflow/--no-mlflow", help="Log the run to MLflow.")] = True,
    register: Annotated[
        bool, typer.Option(help="Register a gridsense-risk-benchmark version (never the served name).")
    ] = True,
) -> None:
    """Rolling-origin backtest: model vs last-week, 4/12/52-week means and hotspot baselines."""
    from rich.console import Console

    from evaluation.risk_benchmark import (
        champion_text_classifier,
        log_to_mlflow,
        markdown_summary,
        parse_day,
        run,
        write_plots,
    )

    console = Console()
    report, result, panel, log = run(
        adapter,
        events,
        parse_day(test_from),
        parse_day(test_to) if test_to else None,
        cell_size_m,
        retrain_every,
        objective,
        units,
        ablation,
        ablation_retrain_every,
        console.print,
        model_overrides=json.loads(model_params) if model_params else None,
        text_classifier=champion_text_classifier(console.print) if text_model else None,
    )
    written = write_plots(result, report["adapter"], plots_dir)
    report["plots"] = [str(path) for path in written]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    console.print(markdown_summary(report), markup=False)
    if mlflow_log:
        run_id, version = log_to_mlflow(report, result, panel, log, written, out, register)
        console.print(
            f"MLflow run {run_id}"
            + (f"; registered gridsense-risk-benchmark version {version}" if version else "")
        )
    console.print(f"report: {out}")


@app.command("serve")
def serve(
    workers: Annotated[str, typer.Option(help="Worker counts to measure, comma-separated.")] = "2",
    inference: Annotated[
        str, typer.Option(help="microbatch, threadpool and/or inline, comma-separated.")
    ] = "microbatch",
    concurrency: Annotated[int, typer.Option(help="Concurrent keep-alive connections.")] = 16,
    seconds: Annotated[float, typer.Option(help="Duration of each scenario.")] = 15,
    max_requests: Annotated[int, typer.Option(help="Request budget of each scenario.")] = 50_000,
    scenarios: Annotated[
        str,
        typer.Option(
            help="Comma-separated subset of classify_single, classify_batch32, risk_read, intake_single, "
            "intake_batch32, intake_no_search, alias_swap, poisoned_batch, worst_case, worst_case_unbounded "
            "(evaluation/load_test.py)."
        ),
    ] = "classify_single,classify_batch32,risk_read,intake_single,intake_batch32,alias_swap",
    swap_seconds: Annotated[
        float, typer.Option(help="Duration of the alias-swap run (swap after 1/4).")
    ] = 40,
    store_reports: Annotated[
        int,
        typer.Option(
            help="Intake scenarios: reports pre-filled into a fresh report store (the last 30 days, drawn "
            "from the site's event log)."
        ),
    ] = 100_000,
    out: Annotated[Path | None, typer.Option(help="Also write the results as JSON here.")] = None,
) -> None:
    """Measure the API under load on 127.0.0.1 (throughput, latency percentiles, errors, an alias swap;
    intake's throughput against the risk read's in the same run)."""
    from rich.console import Console

    from evaluation.load_test import (
        ISOLATION_SCENARIOS,
        SCENARIOS,
        ScenarioResult,
        markdown_table,
        ratio_lines,
        run_benchmark,
        run_isolation,
        throughput_ratios,
    )

    console = Console()
    chosen = tuple(name.strip() for name in scenarios.split(",") if name.strip())
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        raise typer.BadParameter(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    load = tuple(name for name in chosen if name not in ISOLATION_SCENARIOS)
    isolation = tuple(name for name in chosen if name in ISOLATION_SCENARIOS)
    results: list[ScenarioResult] = []
    tables: list[str] = []
    figures: dict[str, object] = {}
    store: dict = {}
    for worker_count in (int(w) for w in workers.split(",")):
        for mode in (m.strip() for m in inference.split(",")):
            console.print(f"[bold]{worker_count} worker(s), {mode}[/] ...")
            if load:
                results += run_benchmark(
                    worker_count,
                    mode,
                    concurrency,
                    seconds,
                    max_requests,
                    load,
                    swap_seconds,
                    store_reports=store_reports,
                    store_info=store,
                )
            if isolation:
                more_tables, more = run_isolation(worker_count, mode, concurrency, seconds, isolation)
                tables += more_tables
                figures[f"{worker_count} worker(s), {mode}"] = more
    ratios = throughput_ratios(results)
    if results:
        console.print(markdown_table(results), soft_wrap=True, markup=False)
        if store:
            console.print(
                f"intake's report store: {store['reports']:,} reports of the last {store['days']} days "
                f"from {store['source']} (filled in {store['fill_seconds']} s)",
                soft_wrap=True,
                markup=False,
            )
        if ratios:
            console.print(ratio_lines(ratios), soft_wrap=True, markup=False)
    for table in tables:
        console.print(table, soft_wrap=True, markup=False)
    if out is not None:
        payload = {
            "load": [asdict(r) for r in results],
            "ratios": ratios,
            "store": store,
            "isolation": figures,
        }
        out.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")


@app.command("redaction")
def redaction(
    texts: Annotated[int, typer.Option(help="How many demo reports (texts, then titles).")] = 50_000,
    baseline_ref: Annotated[
        str, typer.Option(help="Git revision whose features/text.py is the baseline.")
    ] = "1107a8e",
    repeats: Annotated[int, typer.Option(help="Timed runs per entry point (median).")] = 3,
    seed: int = 7,
) -> None:
    """Redaction throughput (reports/s) before/after on demo reports, and its false and missed redactions."""
    from evaluation.redaction_speed import report

    report(texts, baseline_ref, repeats, seed)
