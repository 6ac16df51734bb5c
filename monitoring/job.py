"""`gridsense monitor` as a library call: score traffic, compare each window with the reference, log an
alert for every crossed threshold, write the report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from features.text import prepare_texts
from monitoring.report import write_report
from monitoring.scoring import ScoredReports, score_reports, top_unseen_ngrams, training_vocabulary
from monitoring.signals import DriftReference, DriftThresholds, Signal, compare
from monitoring.traffic import corrections, windows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorResult:
    report_path: Path
    summary: dict[str, Any]

    @property
    def alarmed_windows(self) -> list[int]:
        return [w["index"] for w in self.summary["windows"] if w["alarms"]]

    @property
    def latest_alarms(self) -> list[str]:
        return self.summary["windows"][-1]["alarms"]


def build_reference(
    classifier: object, reports: pl.DataFrame, model_version: str | None = None, source: str | None = None
) -> DriftReference:
    """The reference from held-out reports of the training data, scored by the model being monitored."""
    scored = score_reports(classifier, reports.get_column("text").to_list(), _titles(reports))
    return DriftReference.build(scored, model_version=model_version, source=source)


def score_traffic(classifier: object, reports: pl.DataFrame) -> ScoredReports:
    scored = score_reports(classifier, reports.get_column("text").to_list(), _titles(reports))
    fed_back = corrections(reports, scored.leaf_id)
    if fed_back is None:
        return scored
    return ScoredReports(**{**scored.__dict__, "corrected": fed_back})


def run_monitor(
    reference: DriftReference,
    traffic: ScoredReports,
    thresholds: DriftThresholds,
    window_size: int,
    out_dir: Path,
    *,
    source: str,
    model_version: str | None = None,
    unseen_ngrams: Any = None,
    times: list[str | None] | None = None,
    step: int | None = None,
) -> MonitorResult:
    """Compare each window of `traffic` with `reference` and write the report to `out_dir`.
    `unseen_ngrams(start, stop)` may list the new n-grams of a window (it needs the texts); `times` (one
    per report, in traffic order) give each window its first and last date; `step` (default: the window
    size) how many reports apart the windows end (`monitoring.traffic.windows`)."""
    summaries = []
    for window in windows(len(traffic), window_size, step):
        signals = compare(reference, traffic.slice(window.start, window.stop), thresholds)
        alarms = [signal.name for signal in signals if signal.alarm]
        for signal in signals:
            if signal.alarm:
                _alert(window.index, window.start, window.stop, signal)
        summaries.append(
            {
                "index": window.index,
                "start": window.start,
                "stop": window.stop,
                **_dates(times, window.start, window.stop),
                "alarms": alarms,
                "signals": {signal.name: signal.to_dict() for signal in signals},
            }
        )
    first_alarm = next((w for w in summaries if w["alarms"]), summaries[-1])
    focus = dict(first_alarm)
    if unseen_ngrams is not None:
        focus["top_unseen_ngrams"] = unseen_ngrams(focus["start"], focus["stop"])
    summary = {
        "model_version": model_version,
        "source": source,
        "reports": len(traffic),
        "window_size": window_size,
        "window_step": step or window_size,
        "thresholds": thresholds.__dict__,
        "windows": summaries,
        "first_alarm_window": first_alarm["index"] if first_alarm["alarms"] else None,
        "first_alarm_report": first_alarm["stop"] - 1 if first_alarm["alarms"] else None,
        "focus_window": focus,
    }
    return MonitorResult(write_report(out_dir, summary, reference), summary)


def monitor_reports(
    classifier: object,
    reference: DriftReference,
    reports: pl.DataFrame,
    thresholds: DriftThresholds,
    window_size: int,
    out_dir: Path,
    *,
    source: str,
    model_version: str | None = None,
    step: int | None = None,
) -> MonitorResult:
    """Score a batch of reports with the model and monitor it (with the new n-grams of the focus window)."""
    traffic = score_traffic(classifier, reports)
    vocabulary = training_vocabulary(classifier)
    prepared = prepare_texts(reports.get_column("text").to_list(), _titles(reports))

    def unseen(start: int, stop: int) -> list[tuple[str, int]]:
        return top_unseen_ngrams(prepared[start:stop], vocabulary)

    return run_monitor(
        reference,
        traffic,
        thresholds,
        window_size,
        out_dir,
        source=source,
        model_version=model_version,
        unseen_ngrams=unseen,
        times=reports.get_column("reported_at").to_list() if "reported_at" in reports.columns else None,
        step=step,
    )


def _dates(times: list[str | None] | None, start: int, stop: int) -> dict[str, str]:
    known = sorted(time for time in (times or [])[start:stop] if time)
    return {"from": known[0][:10], "to": known[-1][:10]} if known else {}


def _titles(reports: pl.DataFrame) -> list[str | None] | None:
    return reports.get_column("title").to_list() if "title" in reports.columns else None


def _alert(index: int, start: int, stop: int, signal: Signal) -> None:
    logger.warning(
        "drift alert: window %d (reports %d-%d): %s = %.3f crosses %.3f",
        index,
        start,
        stop - 1,
        signal.name,
        signal.value,
        signal.threshold,
        extra={"drift_signal": signal.name, "drift_value": signal.value, "drift_threshold": signal.threshold},
    )


@dataclass(frozen=True)
class MonitoredModel:
    classifier: object
    version: str
    data_path: Path | None  # the text set the version was trained on (its run's `data.path`)


def load_registered_text_model(alias_or_version: str = "champion", name: str | None = None) -> MonitoredModel:
    """A registered text model (by alias or version number; `name` defaults to the demo's) with the path of
    its training data."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from core.errors import GridSenseUserError
    from core.registry import TEXT_MODEL_NAME, alias_version

    name = name or TEXT_MODEL_NAME
    client = MlflowClient()
    version = (
        alias_or_version if alias_or_version.isdigit() else alias_version(client, name, alias_or_version)
    )
    if version is None:
        raise GridSenseUserError(
            f"{name}@{alias_or_version} is not registered",
            "train a text model first (gridsense train text)",
        )
    run_id = client.get_model_version(name, version).run_id
    data = client.get_run(run_id).data.params.get("data.path") if run_id else None
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()
    return MonitoredModel(model.classifier, str(version), Path(data) if data else None)
