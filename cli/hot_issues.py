"""`gridsense hot-issues` and `gridsense benchmark hot-issues`: thin shells over `batch.hot_issues`
(registered in cli/app.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, timed
from cli.options import SiteOption
from core.home import DemoPaths

EventsOption = Annotated[
    Path | None,
    typer.Option(help="Event log (Parquet/CSV) or a TIPDM-style message CSV (default: the site's events)."),
]


def hot_issues(
    events: EventsOption = None,
    window_days: Annotated[
        float, typer.Option(help="The recent window in days, ending at --end (0: every report).")
    ] = 7.0,
    end: Annotated[
        datetime | None, typer.Option(help="End of the window (default: just after the last report).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the tables (default: the site's dashboard tables).")
    ] = None,
    max_gap_days: Annotated[float, typer.Option(help="Reports further apart never join one issue.")] = 30.0,
    top: Annotated[int, typer.Option(help="Issues to print.")] = 20,
    invalid_model: Annotated[
        bool,
        typer.Option(help="Leave out reports the gridsense-invalid champion calls invalid (if registered)."),
    ] = True,
    site: SiteOption = None,
) -> None:
    """Group the window's reports about one problem in one place into issues, rank them by heat (reports,
    distinct reporters, likes, growth against the previous window, concentration), write the tables."""
    from batch.hot_issues import read_reports, run_hot_issues, valid_reports
    from core.registry import INVALID_MODEL_NAME
    from core.sites import load_site
    from models.hot_issues import HotIssueParams

    current = load_site(site)
    path = events or current.require_events()
    reports = read_reports(path)
    invalid = _invalid_champion(current.model_name(INVALID_MODEL_NAME)) if invalid_model else None
    reports, how = valid_reports(reports, invalid)
    target = out or current.dashboard_tables
    params = HotIssueParams(max_gap_days=max_gap_days)
    issues, members = timed(
        "hot issues", lambda: run_hot_issues(reports, target, window_days, end, params=params)
    )
    console.print(
        f"  invalid reports: {how}; {issues.height:,} issues from {members.height:,} reports -> {target}"
    )
    for row in issues.head(top).iter_rows(named=True):
        console.print(
            f"  {row['rank']:>3} heat {row['heat']:.2f} {row['n_reports']:>3} reports "
            f"{row['n_reporters']:>3} reporters {row['likes']:>5} likes  "
            f"{row['title']}  [{row['place'] or '-'}]",
            markup=False,
            soft_wrap=True,
        )


def benchmark_hot_issues(
    events: EventsOption = None,
    test_share: Annotated[float, typer.Option(help="The latest share of valid reports scored.")] = 0.15,
    out: Annotated[Path | None, typer.Option(help="Where to write the JSON report.")] = None,
) -> None:
    """B-cubed precision/recall/F1 of hot-issue clustering against the log's incident ids (ground truth)."""
    from batch.hot_issues import benchmark_hot_issues as bench
    from batch.hot_issues import read_reports, write_report

    path = events or DemoPaths.under().events
    report = timed("hot-issue clustering", lambda: bench(read_reports(path), test_share))
    console.print(
        f"  {report['reports']:,} reports of {report['incidents']:,} incidents from {report['test_from']}"
    )
    for name in ("with_category", "text_place_grid_only"):
        s = report[name]
        console.print(
            f"  {name}: B-cubed precision {s['bcubed_precision']:.3f} recall {s['bcubed_recall']:.3f} "
            f"F1 {s['bcubed_f1']:.3f}"
        )
    if out:
        write_report(report, out)
        console.print(f"  report: {out}")


def _invalid_champion(name: str):
    """The site's registered invalid-report model, or None when there is none (the job runs without it)."""
    import mlflow

    from core.home import project_root
    from core.registry import model_uri
    from core.settings import tracking_uri

    try:
        mlflow.set_tracking_uri(tracking_uri(project_root()))
        return mlflow.pyfunc.load_model(model_uri(name))
    except Exception as error:  # no registry, no version: hot issues without it
        console.print(f"  no invalid-report model ({type(error).__name__}); every report is used")
        return None
