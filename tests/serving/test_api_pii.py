"""Personal data in API answers: the recent-reports route redacts every corpus case (even from tables
written without redaction), evidence phrases carry none, and raw text is for data_scientist keys only,
only when kept, and audited."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta
from types import SimpleNamespace

import polars as pl
import pytest
from fastapi.testclient import TestClient

from batch.dashboard_tables import REPORTS_FILE, build_dashboard_tables
from features.text import normalize_text
from serving.deps import get_resources
from tests.pii_corpus import CORPUS

PREDICTION = dict(leaf_id="a", category_l1="x", category_l2="x", category_l3="x", department="d",
                  risk_group="none", p_l3=0.8, needs_review=False)  # fmt: skip


class _Classifier:
    def describe(self, texts, top_k=3, review_threshold=None, label_threshold=None):
        return [SimpleNamespace(**PREDICTION) for _ in texts]


def _events() -> pl.DataFrame:
    start = datetime(2026, 1, 5, 9)
    return pl.DataFrame(
        {
            "event_id": [f"E{i:03d}" for i in range(len(CORPUS))],
            "grid_id": [f"G000{1 + i % 2}" for i in range(len(CORPUS))],  # at most 50 per answer
            "reported_at": [start + timedelta(minutes=i) for i in range(len(CORPUS))],
            "category_l1": ["x"] * len(CORPUS),
            "risk_group": ["none"] * len(CORPUS),
            "channel": ["hotline"] * len(CORPUS),
            "title": [case.text[:12] for case in CORPUS],
            "text": [f"市民来电：{case.text}" for case in CORPUS],
            "status": ["open"] * len(CORPUS),
        }
    )


GRIDS = pl.DataFrame({"grid_id": ["G0001", "G0002"], "x_m": [0.0, 500.0], "y_m": [0.0, 0.0]})


def _write(settings, keep_raw_text: bool = False):
    tables = build_dashboard_tables(
        _events(), GRIDS, _Classifier(), model_version="7", reports_per_grid=50, keep_raw_text=keep_raw_text
    )
    return tables.write(settings.dashboard_tables_dir)


def _client(app, loaded, key: str) -> TestClient:
    app.dependency_overrides[get_resources] = lambda: loaded
    return TestClient(app, headers={"X-API-Key": key})


def _leaks(body_text: str) -> list[str]:
    normalised = normalize_text(body_text)
    return [t for case in CORPUS for t in case.tokens if t in body_text or normalize_text(t) in normalised]


class _Answer(SimpleNamespace):
    """Both grids' answers to one role's request, as one."""


@pytest.fixture
def reports_of(app, loaded, api_keys):
    def get(role: str, **params):
        client = _client(app, loaded, api_keys[role])
        answers = [
            client.get(f"/v1/grids/{grid}/reports", params={"limit": 50, **params})
            for grid in ("G0001", "G0002")
        ]
        if any(answer.status_code != 200 for answer in answers):
            return answers[0]
        bodies = [answer.json() for answer in answers]
        body = {**bodies[0], "reports": [r for b in bodies for r in b["reports"]]}
        return _Answer(status_code=200, json=lambda: body, text="\n".join(a.text for a in answers))

    yield get
    app.dependency_overrides.clear()


def test_the_reports_route_answers_with_no_corpus_token(settings, reports_of):
    _write(settings)
    response = reports_of("supervisor")
    assert response.status_code == 200
    body = response.json()
    assert body["redacted"] is True and len(body["reports"]) == len(CORPUS)
    assert _leaks(response.text) == []


def test_tables_written_without_redaction_are_redacted_when_served(settings, reports_of):
    folder = _write(settings)
    table = pl.read_parquet(folder / REPORTS_FILE)
    raw = {row["event_id"]: row for row in _events().to_dicts()}
    table = table.with_columns(  # as an older batch step (fewer rules) might have written them
        title=pl.Series([raw[event]["title"] for event in table["event_id"]]),
        text=pl.Series([raw[event]["text"] for event in table["event_id"]]),
    )
    table.write_parquet(folder / REPORTS_FILE)
    assert _leaks(_strings(table))  # the file itself holds personal data
    assert _leaks(reports_of("supervisor").text) == []


def _strings(frame: pl.DataFrame) -> str:
    return "\n".join(str(v) for column in ("title", "text") for v in frame.get_column(column).to_list())


def test_raw_text_is_for_data_scientists_only_and_audited(settings, reports_of, assert_error):
    folder = _write(settings, keep_raw_text=True)
    raw_file = folder / "recent_reports_raw.parquet"
    assert stat.S_IMODE(os.stat(raw_file).st_mode) == 0o600
    assert_error(reports_of("supervisor", raw=True), 403, "forbidden", "raw")

    answer = reports_of("data_scientist", raw=True)
    assert answer.status_code == 200
    body = answer.json()
    assert body["redacted"] is False
    texts = {report["event_id"]: report["text"] for report in body["reports"]}
    assert texts["E000"] == f"市民来电：{CORPUS[0].text}"  # as written
    assert [e for e in settings.audit_log_path.read_text().splitlines() if "read_raw_reports" in e]

    assert _leaks(reports_of("data_scientist").text) == []  # without the flag: redacted as for anyone


def test_raw_text_not_kept_is_a_clear_404_and_a_later_build_removes_it(settings, reports_of, assert_error):
    _write(settings, keep_raw_text=True)
    folder = _write(settings)  # the option off: the raw file goes
    assert not (folder / "recent_reports_raw.parquet").exists()
    assert_error(reports_of("data_scientist", raw=True), 404, "raw_text_not_kept", "raw")


def test_evidence_phrases_in_classify_answers_hold_no_corpus_token(client, classifier, text_service):
    # a classifier that (wrongly) cuts its phrases from the raw text: the service redacts them
    classifier.evidence = lambda texts, top_n=3: [[SimpleNamespace(phrase=t, weight=0.5)] for t in texts]
    items = [{"text": case.text} for case in CORPUS]
    size = min(text_service.max_batch, text_service.max_evidence_items)
    for batch in (items[start : start + size] for start in range(0, len(items), size)):
        response = client.post("/v1/classify?evidence=true", json={"items": batch})
        assert response.status_code == 200, response.text
        phrases = [e["phrase"] for result in response.json()["results"] for e in result["evidence"]]
        assert len(phrases) == len(batch)
        assert _leaks("\n".join(phrases)) == []
