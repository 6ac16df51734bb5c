"""`gridsense monitor`: compare recent traffic with the text model's training reference; write a report."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, timed
from core.home import project_root
from core.settings import Settings

ALARM_EXIT_CODE = 1
TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]


def _time_option(help_text: str):
    return typer.Option(formats=TIME_FORMATS, help=help_text)


def monitor(
    reports: Annotated[
        list[Path] | None,
        typer.Option(
            "--reports",
            help="Traffic: CSV/Parquet of reports (`text`, optional `title`, `reported_at`, `split`, "
            "`corrected_leaf_id`), scored by the model; repeat for several files, read in order.",
        ),
    ] = None,
    drift_log: Annotated[
        Path | None,
        typer.Option(help="Traffic: the API's drift log (GRIDSENSE_DRIFT_LOG_PATH), already scored."),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Only the rows of this `split` of the traffic files.")
    ] = None,
    since: Annotated[
        datetime | None, _time_option("Only traffic reported at or after this time (needs `reported_at`).")
    ] = None,
    until: Annotated[datetime | None, _time_option("Only traffic reported before this time.")] = None,
    shuffle_seed: Annotated[
        int | None,
        typer.Option(help="Shuffle each traffic file's rows (an undated set sorted by label is no stream)."),
    ] = None,
    model: Annotated[str, typer.Option(help="Text model to monitor: an alias or a version.")] = "champion",
    reference_data: Annotated[
        Path | None,
        typer.Option(
            help="Held-out reports for the reference (default: the model's training set, run param)."
        ),
    ] = None,
    reference_split: Annotated[
        str, typer.Option(help="Rows of the reference data to use (the trainer does not fit on `valid`).")
    ] = "valid",
    reference_since: Annotated[
        datetime | None, _time_option("Only reference reports reported at or after this time.")
    ] = None,
    reference_until: Annotated[
        datetime | None,
        _time_option("Only reference reports reported before this time (e.g. the start of a known change)."),
    ] = None,
    reference: Annotated[
        Path | None, typer.Option(help="A reference JSON written by an earlier run (skips building one).")
    ] = None,
    window: Annotated[
        int | None, typer.Option(help="Reports per window (default: GRIDSENSE_DRIFT_WINDOW_REPORTS).")
    ] = None,
    step: Annotated[
        int | None,
        typer.Option(
            help="Judge a window every this many reports (default: GRIDSENSE_DRIFT_WINDOW_STEP; "
            "--step equal to --window: consecutive windows)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Report folder (drift_report.md, PNG plots, JSON).")] = Path(
        "drift-report"
    ),
) -> None:
    """Compare each window of traffic with the training reference (category mix, confidence, needs_review,
    unseen n-grams, novel reports, text length, corrections); log an alert for each crossed threshold;
    write a report. Exit code 1 when the latest window alarms."""
    from core.errors import GridSenseUserError
    from core.registry import TEXT_MODEL_NAME, site_model_name
    from core.settings import tracking_uri
    from monitoring.job import build_reference, load_registered_text_model, monitor_reports, run_monitor
    from monitoring.signals import DriftReference, DriftThresholds
    from monitoring.traffic import load_drift_log, load_reports

    if bool(reports) == bool(drift_log):
        raise GridSenseUserError("give the traffic as --reports FILE... or --drift-log FILE (one of them)")
    _check_range(since, until, "--since", "--until")
    _check_range(reference_since, reference_until, "--reference-since", "--reference-until")
    if drift_log and (since or until):
        raise GridSenseUserError("--since/--until select dated --reports; the drift log has no dates")
    if reference is not None and (reference_since or reference_until):
        raise GridSenseUserError("--reference-since/--until build a reference; --reference is a saved one")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    settings = Settings()
    thresholds = DriftThresholds.from_settings(settings)
    size = window or settings.drift_window_reports
    every = _step(step, settings.drift_window_step, size)
    loaded = None
    if reports or reference is None:  # the API's drift log with a saved reference needs no model
        import mlflow

        mlflow.set_tracking_uri(tracking_uri(project_root()))
        name = site_model_name(TEXT_MODEL_NAME, settings.site)  # GRIDSENSE_SITE's text model
        loaded = timed(f"load {name} {model}", lambda: load_registered_text_model(model, name))
    if reference is not None:
        baseline = DriftReference.from_dict(json.loads(reference.read_text(encoding="utf-8")))
    else:
        source = reference_data or loaded.data_path
        if source is None:
            raise GridSenseUserError("no reference data", "pass --reference-data (the held-out text set)")
        held_out = load_reports(
            [source],
            split=reference_split,
            since=reference_since,
            until=reference_until,
            what="the reference data",
        )
        label = f"{reference_split}{_range_label(reference_since, reference_until)}"
        baseline = timed(
            f"reference: {held_out.height:,} reports of {source.name} ({label}){_dated(held_out)}",
            lambda: build_reference(loaded.classifier, held_out, loaded.version, f"{source}:{label}"),
        )
        _save_reference(baseline, settings)
    if reports:
        traffic = load_reports(reports, split=split, shuffle_seed=shuffle_seed, since=since, until=until)
        result = timed(
            f"score and compare {traffic.height:,} reports",
            lambda: monitor_reports(
                loaded.classifier,
                baseline,
                traffic,
                thresholds,
                size,
                out,
                source=", ".join(str(p) for p in reports) + _range_label(since, until),
                model_version=loaded.version,
                step=every,
            ),
        )
    else:
        result = run_monitor(
            baseline,
            load_drift_log(drift_log),
            thresholds,
            size,
            out,
            source=str(drift_log),
            model_version=loaded.version if loaded else baseline.model_version,
            step=every,
        )
    _print_result(result)
    if result.latest_alarms:
        raise typer.Exit(ALARM_EXIT_CODE)


def _check_range(since: datetime | None, until: datetime | None, since_name: str, until_name: str) -> None:
    from core.errors import GridSenseUserError

    if since is not None and until is not None and since >= until:
        raise GridSenseUserError(
            f"{since_name} {since:%Y-%m-%d %H:%M:%S} is not before {until_name} {until:%Y-%m-%d %H:%M:%S}",
            "the range includes its start and stops before its end",
        )


def _step(step: int | None, default: int, size: int) -> int:
    """--step, else GRIDSENSE_DRIFT_WINDOW_STEP capped at the window (a small --window alone is no
    mistake); a --step outside 1..window is."""
    from core.errors import GridSenseUserError

    if size < 1:
        raise GridSenseUserError(f"--window {size} holds no report", "give at least 1")
    if step is None:
        return min(default, size)
    if not 1 <= step <= size:
        raise GridSenseUserError(f"--step {step} is not between 1 and the window ({size} reports)")
    return step


def _range_label(since: datetime | None, until: datetime | None) -> str:
    def moment(value: datetime) -> str:
        return f"{value:%Y-%m-%d}" if value.time() == datetime.min.time() else f"{value:%Y-%m-%d %H:%M:%S}"

    if since is not None and until is not None:
        return f" [{moment(since)}, {moment(until)})"
    if since is not None:
        return f" (since {moment(since)})"
    return "" if until is None else f" (before {moment(until)})"


def _dated(reports) -> str:
    """`, reported YYYY-MM-DD to YYYY-MM-DD` when the reports are dated: a reference that runs past a known
    change (a `valid` split often does) holds the drift it should reveal."""
    times = reports.get_column("reported_at").drop_nulls()
    return f", reported {times.min()[:10]} to {times.max()[:10]}" if len(times) else ""


def _save_reference(reference, settings: Settings) -> None:
    """Where the API's drift gauges read the reference (GRIDSENSE_DRIFT_REFERENCE_PATH)."""
    from core.atomic_files import atomic_write_bytes

    path = settings.home / settings.drift_reference_path
    atomic_write_bytes(path, json.dumps(reference.to_dict(), ensure_ascii=False).encode("utf-8"), mode=0o644)
    console.print(f"  reference for the API's drift gauges: {path}")


def _print_result(result) -> None:
    summary = result.summary
    windows = summary["windows"]
    step = summary["window_step"]
    every = "" if step == summary["window_size"] else f", one every {step:,} reports"
    console.print(
        f"  {summary['reports']:,} reports in {len(windows)} windows of {summary['window_size']:,}{every}"
    )
    for w in windows:
        values = ", ".join(
            f"{name} {s['value']:.3f}" for name, s in w["signals"].items() if s["value"] is not None
        )
        flag = f"[bold red]ALARM {', '.join(w['alarms'])}[/]" if w["alarms"] else "[green]ok[/]"
        console.print(
            f"  window {w['index']:>3} ({w['start']:,}-{w['stop'] - 1:,}): {flag}  {values}", soft_wrap=True
        )
    if summary["first_alarm_report"] is not None:
        console.print(
            f"  first alarm at report {summary['first_alarm_report']:,} (0-based, in traffic order)"
        )
    console.print(f"report: {result.report_path}")
