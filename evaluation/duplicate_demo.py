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
it knows both reports' leaves and grids: the log's category stands in for the classifier's leaf, or, with
`leaves="predicted"`, the leaf the registered text champion predicts (what intake would have).

Templates unseen in training: where the log has `template_id`, the pairs either of whose reports uses a
template that no report before the context params' `train_to` used (else before the test period) are also
counted apart (`unseen_templates`).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import polars as pl

from core.report_store import SpoolingReportStore
from models.duplicate_search import DuplicateSearch, Incoming
from models.duplicates import DuplicateParams, pair_metrics
from models.grid_neighbours import GridNeighbours
from training.train_duplicates import leaf_of, valid_reports

Leaves = Literal["log", "predicted"]


def load_reports(events: Path) -> pl.DataFrame:
    frame = valid_reports(pl.read_parquet(events))
    return frame.with_columns(leaf_of(frame).alias("_leaf"))


def predicted_leaves(frame: pl.DataFrame) -> pl.Series:
    """The leaf the registered text champion (GRIDSENSE_HOME) predicts for each report's title and text."""
    import mlflow

    from core.home import project_root
    from core.registry import TEXT_MODEL_NAME
    from core.settings import tracking_uri
    from features.text import join_title_text

    uri = tracking_uri(project_root())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.pyfunc.load_model(f"models:/{TEXT_MODEL_NAME}@champion")
    classifier = model.unwrap_python_model().classifier
    titles = frame["title"] if "title" in frame.columns else pl.Series([None] * frame.height)
    texts = [join_title_text(t, x) for t, x in zip(titles, frame["text"], strict=True)]
    return pl.Series("_leaf", [str(leaf) for leaf in classifier.predict(texts)], dtype=pl.String)


class _Tally:
    """Pairs decided duplicate (with their truth) and same-issue pairs in scope (seen / found)."""

    def __init__(self) -> None:
        self.predicted: list[bool] = []
        self.truth: list[bool] = []
        self.seen = 0
        self.found = 0

    def metrics(self) -> dict[str, Any]:
        precision = pair_metrics(self.predicted, self.truth)["precision"] if self.predicted else 1.0
        recall = self.found / self.seen if self.seen else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "pairs_decided_duplicate": len(self.predicted),
            "same_issue_pairs_in_scope": self.seen,
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
        }


def _unseen_templates(reports: pl.DataFrame, before) -> set[str]:
    """Template ids that no report before `before` used."""
    if "template_id" not in reports.columns:
        return set()
    seen = set(reports.filter(pl.col("reported_at") < before)["template_id"].drop_nulls().to_list())
    return set(reports["template_id"].drop_nulls().to_list()) - seen


def run(
    events: Path,
    grids: Path,
    test_weeks: int = 13,
    fill_weeks: int = 2,
    window_days: float = 7.0,
    max_reports: int | None = None,
    directory: Path | None = None,
    context_params: Path | None = None,
    leaves: Leaves = "log",
) -> dict[str, Any]:
    reports = load_reports(events)
    end = reports.get_column("reported_at").max()
    test_start = end - timedelta(weeks=test_weeks)
    reports = reports.filter(pl.col("reported_at") >= test_start - timedelta(weeks=fill_weeks))
    if max_reports is not None:  # the fill weeks and the first `max_reports` of the test period
        reports = reports.head(reports.filter(pl.col("reported_at") < test_start).height + max_reports)
    if leaves == "predicted":
        reports = reports.with_columns(predicted_leaves(reports))
    fill = reports.filter(
        (pl.col("reported_at") >= test_start - timedelta(weeks=fill_weeks))
        & (pl.col("reported_at") < test_start)
    )
    test = reports.filter(pl.col("reported_at") >= test_start)
    workdir = Path(directory or tempfile.mkdtemp(prefix="gridsense-dup-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store = SpoolingReportStore.sqlite(workdir / "reports.sqlite", retention_days=None)
    neighbours = GridNeighbours.from_file(grids)
    context = DuplicateParams.load(context_params) if context_params else None
    trained_to = (context.fitted_on.get("train_to") if context else None) or str(test_start)
    unseen = _unseen_templates(load_reports(events), datetime.fromisoformat(str(trained_to)))
    template = (
        dict(zip(reports["event_id"].cast(pl.String), reports["template_id"], strict=True))
        if "template_id" in reports.columns
        else {}
    )
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
    overall, new_phrasing = _Tally(), _Tally()
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
                for tally in _tallies(overall, new_phrasing, unseen, template, item.id, match.id):
                    tally.predicted.append(True)
                    tally.truth.append(incident.get(match.id) == key)
        visible = [
            event_id
            for event_id, at, grid in recent.get(key, [])
            if _aware(at) >= item.reported_at - window and grid in neighbours.of(item.grid_id or "")
        ]
        for event_id in visible:
            for tally in _tallies(overall, new_phrasing, unseen, template, item.id, event_id):
                tally.seen += 1
                tally.found += event_id in duplicates
        recent.setdefault(key, []).append((item.id, item.reported_at, item.grid_id))
    return {
        "test_from": str(test_start),
        "test_reports": test.height,
        "fill_reports": fill.height,
        **overall.metrics(),
        "unseen_templates": {"templates": len(unseen), **new_phrasing.metrics()},
        "leaves": leaves,
        "threshold": search.params.duplicate_threshold,
        "context_params": str(context_params) if context_params else None,
        "context_threshold": context.duplicate_threshold if context else None,
    }


def _tallies(
    overall: _Tally, new_phrasing: _Tally, unseen: set[str], template: dict, *ids: str
) -> list[_Tally]:
    """Where a pair counts: overall, and apart when either report uses a template unseen in training."""
    return [overall, new_phrasing] if any(template.get(i) in unseen for i in ids) else [overall]


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
