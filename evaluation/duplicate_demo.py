"""Duplicate detection on the demo city, whose event log names the incident behind every report
(`incident_id`, demo_city): `gridsense benchmark duplicates-demo`.

The reports are replayed through intake's own search (:class:`models.duplicate_search.DuplicateSearch`) in
time order into a fresh store: the weeks before the test period fill it, then every report of the test
period (the last `test_weeks` weeks) is searched before it is stored. A pair is (report, earlier report
within the window in the same or a neighbouring grid); it is the same issue when both carry the same
incident id. Precision: of the pairs decided `duplicate`, the share that are the same issue. Recall: of
the same-issue pairs the search could see (window and grids), the share decided `duplicate`. Invalid
reports (`invalid_reason` set) are left out: they are another model's job.

With `context_params` (`gridsense train duplicates-context`), pairs are scored as intake scores them when
it knows both reports' leaves and grids; the log's category stands in for the classifier's leaf.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from core.report_store import SpoolingReportStore
from models.duplicate_search import DuplicateSearch, Incoming
from models.duplicates import DuplicateParams, pair_metrics
from models.grid_neighbours import GridNeighbours
from training.train_duplicates import leaf_of, valid_reports


def load_reports(events: Path) -> pl.DataFrame:
    frame = valid_reports(pl.read_parquet(events))
    return frame.with_columns(leaf_of(frame).alias("_leaf"))


def run(
    events: Path,
    grids: Path,
    test_weeks: int = 13,
    fill_weeks: int = 2,
    window_days: float = 7.0,
    max_reports: int | None = None,
    directory: Path | None = None,
    context_params: Path | None = None,
) -> dict[str, Any]:
    reports = load_reports(events)
    end = reports.get_column("reported_at").max()
    test_start = end - timedelta(weeks=test_weeks)
    fill = reports.filter(
        (pl.col("reported_at") >= test_start - timedelta(weeks=fill_weeks))
        & (pl.col("reported_at") < test_start)
    )
    test = reports.filter(pl.col("reported_at") >= test_start)
    if max_reports is not None:
        test = test.head(max_reports)
    workdir = Path(directory or tempfile.mkdtemp(prefix="gridsense-dup-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store = SpoolingReportStore.sqlite(workdir / "reports.sqlite", retention_days=None)
    neighbours = GridNeighbours.from_file(grids)
    context = DuplicateParams.load(context_params) if context_params else None
    search = DuplicateSearch(
        store,
        DuplicateParams.load(),
        neighbours,
        window_days,
        shortlist=50,
        max_matches=1000,
        context_params=context,
    )
    incident = dict(
        zip(reports["event_id"].cast(pl.String), reports["incident_id"].cast(pl.String), strict=True)
    )
    for chunk in fill.iter_slices(2000):
        search._store(
            [search._probe(item) for item in _incoming(chunk)], [_blank() for _ in range(chunk.height)]
        )
    predicted, truth = [], []
    same_issue_seen, same_issue_found = 0, 0
    window = timedelta(days=window_days)
    recent: dict[str, list[tuple[str, Any, str]]] = {}  # incident -> (event id, time, grid)
    for row in fill.iter_rows(named=True):
        recent.setdefault(str(row["incident_id"]), []).append(
            (str(row["event_id"]), row["reported_at"], row["grid_id"])
        )
    for item in _incoming(test):
        [outcome] = search.process([item])
        key = incident[item.id]
        duplicates = {m.id for m in outcome.matches if m.decision == "duplicate"}
        for match in outcome.matches:
            if match.decision == "duplicate":
                predicted.append(True)
                truth.append(incident.get(match.id) == key)
        visible = [
            event_id
            for event_id, at, grid in recent.get(key, [])
            if _aware(at) >= item.reported_at - window and grid in neighbours.of(item.grid_id or "")
        ]
        same_issue_seen += len(visible)
        same_issue_found += len(duplicates & set(visible))
        recent.setdefault(key, []).append((item.id, item.reported_at, item.grid_id))
    precision_metrics = pair_metrics(predicted, truth) if predicted else {"precision": 1.0, "tp": 0, "fp": 0}
    recall = same_issue_found / same_issue_seen if same_issue_seen else 1.0
    precision = precision_metrics["precision"]
    return {
        "test_from": str(test_start),
        "test_reports": test.height,
        "fill_reports": fill.height,
        "pairs_decided_duplicate": len(predicted),
        "same_issue_pairs_in_scope": same_issue_seen,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
        "threshold": search.params.duplicate_threshold,
        "context_params": str(context_params) if context_params else None,
        "context_threshold": context.duplicate_threshold if context else None,
    }


def _blank():
    from models.duplicate_search import Outcome

    return Outcome()


def _aware(moment):
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _incoming(frame: pl.DataFrame) -> list[Incoming]:
    title = frame["title"] if "title" in frame.columns else pl.Series([None] * frame.height)
    return [
        Incoming(id=str(event_id), title=t, text=text, reported_at=_aware(at), grid_id=grid, leaf_id=leaf)
        for event_id, t, text, at, grid, leaf in zip(
            frame["event_id"],
            title,
            frame["text"],
            frame["reported_at"],
            frame["grid_id"],
            frame["_leaf"],
            strict=True,
        )
    ]
