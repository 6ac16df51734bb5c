"""`gridsense train duplicates` and `gridsense benchmark duplicates`: thin shells over
`training.train_duplicates` and `models.duplicate_pairs` (registered in cli/app.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.console import print_result
from core.home import project_root


def train_duplicates(
    pairs: Annotated[
        Path, typer.Option(help="Labelled pairs CSV: id_a,title_a,text_a,id_b,title_b,text_b,label.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the params JSON (default: the bundled models/duplicate_params.json)."
        ),
    ] = None,
    min_precision: Annotated[
        float,
        typer.Option(help="The duplicate threshold is the lowest score with this cross-validated precision."),
    ] = 0.95,
    embeddings: Annotated[
        bool, typer.Option(help="Also use e5 sentence-embedding cosines (slower).")
    ] = False,
    track: Annotated[bool, typer.Option(help="Log an MLflow run (experiment gridsense-duplicates).")] = True,
) -> None:
    """Fit the duplicate scorer on labelled pairs and choose its thresholds (cross-validated)."""
    from models.duplicates import PARAMS_FILE
    from training.train_duplicates import train_duplicates as train

    target = out or PARAMS_FILE
    params = train(pairs, project_root(), target, min_precision, embeddings, track)
    print(
        f"duplicate threshold {params.duplicate_threshold:.3f} (related {params.related_threshold:.3f}); "
        f"cross-validated {json.dumps(params.metrics)}; written to {target}"
        + (f"; MLflow run {params.mlflow_run_id}" if params.mlflow_run_id else "")
    )


def benchmark_duplicates(
    pairs: Annotated[Path, typer.Option(help="Pairs CSV: id_a,title_a,text_a,id_b,title_b,text_b[,label].")],
    out: Annotated[Path, typer.Option(help="Where to write the JSON report (every pair under `pairs`).")],
    params: Annotated[
        Path | None, typer.Option(help="Params JSON (default: the bundled models/duplicate_params.json).")
    ] = None,
) -> None:
    """Score report pairs at the recorded operating threshold: precision/recall/F1 where labelled."""
    from models.duplicate_pairs import benchmark, read_pairs
    from models.duplicates import DuplicateParams, e5_embedder

    recorded = DuplicateParams.load(params)
    frame = read_pairs(pairs)
    report = benchmark(frame, recorded, e5_embedder() if recorded.use_embeddings else None)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    metrics = report.get("metrics")
    line = f"{report['pairs_count']} pairs, threshold {recorded.duplicate_threshold:.3f}"
    if metrics:
        line += (
            f": precision {metrics['precision']:.3f} recall {metrics['recall']:.3f} f1 {metrics['f1']:.3f} "
            f"({report['labelled_pairs']} labelled)"
        )
    print(line + f"; report: {out}")


def benchmark_intake(
    reports: Annotated[int, typer.Option(help="Synthetic reports in the store.")] = 1_000_000,
    grids: Annotated[int, typer.Option(help="Grids (a 500 m lattice).")] = 360,
    days: Annotated[int, typer.Option(help="Days the stored reports span.")] = 30,
    queries: Annotated[int, typer.Option(help="Single-report searches timed.")] = 1000,
    batch: Annotated[int, typer.Option(help="Reports per batch in the throughput run.")] = 64,
    directory: Annotated[
        Path | None, typer.Option(help="Where to build the store (default: a temp dir).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the result as JSON here.")] = None,
) -> None:
    """Duplicate search and storage speed with a full report store (classification not included)."""
    from evaluation.intake_speed import run

    result = run(reports=reports, grids=grids, days=days, queries=queries, batch=batch, directory=directory)
    print_result(result, out)


def benchmark_duplicates_demo(
    events: Annotated[Path, typer.Option(help="A demo event log with incident_id (gridsense demo-data).")],
    grids: Annotated[Path, typer.Option(help="Its grids table.")],
    test_weeks: Annotated[int, typer.Option(help="The test period: the last this many weeks.")] = 13,
    max_reports: Annotated[int | None, typer.Option(help="Replay at most this many test reports.")] = None,
    context_params: Annotated[
        Path | None, typer.Option(help="Also score with these context params (train duplicates-context).")
    ] = None,
    leaves: Annotated[
        str,
        typer.Option(
            help="log: the log's category stands in for the classifier's leaf; predicted: the registered "
            "text champion's leaf (GRIDSENSE_HOME), as intake has it."
        ),
    ] = "log",
    out: Annotated[Path | None, typer.Option(help="Also write the result as JSON here.")] = None,
) -> None:
    """Duplicate pairs' precision/recall on the demo city's test period (intake's search, replayed)."""
    from core.errors import GridSenseUserError
    from evaluation.duplicate_demo import run

    if leaves not in ("log", "predicted"):
        raise GridSenseUserError(f"--leaves must be log or predicted, not {leaves!r}")
    result = run(
        events,
        grids,
        test_weeks=test_weeks,
        max_reports=max_reports,
        context_params=context_params,
        leaves=leaves,  # type: ignore[arg-type]
    )
    print_result(result, out)


def train_duplicates_context(
    events: Annotated[Path, typer.Option(help="An event log with incident_id (gridsense demo-data).")],
    grids: Annotated[Path, typer.Option(help="Its grids table.")],
    test_weeks: Annotated[int, typer.Option(help="The last weeks, kept out for the benchmark.")] = 13,
    train_weeks: Annotated[
        int, typer.Option(help="Weeks to fit on, ending --gap-weeks before the test.")
    ] = 8,
    gap_weeks: Annotated[
        int, typer.Option(help="Weeks between training and test (13 keeps the demo's late phrasings unseen).")
    ] = 0,
    min_precision: Annotated[
        float, typer.Option(help="The threshold is the lowest score with this cross-validated precision.")
    ] = 0.95,
    out: Annotated[
        Path | None, typer.Option(help="Params JSON (default: models/duplicate_params_context.json).")
    ] = None,
    track: Annotated[bool, typer.Option(help="Log an MLflow run (experiment gridsense-duplicates).")] = True,
) -> None:
    """Fit the scorer intake uses when both reports' leaves and grids are known (text + same leaf, same
    grid, days apart), on a log whose repeats carry incident ids."""
    from models.duplicates import CONTEXT_PARAMS_FILE
    from training.train_duplicates import train_duplicates_context as train

    target = out or CONTEXT_PARAMS_FILE
    params = train(
        events, grids, project_root(), target, test_weeks, train_weeks, min_precision, track, gap_weeks
    )
    print(
        f"context duplicate threshold {params.duplicate_threshold:.3f}; {json.dumps(params.fitted_on)}; "
        f"cross-validated {json.dumps(params.metrics)}; written to {target}"
    )
