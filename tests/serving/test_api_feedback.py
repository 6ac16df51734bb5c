"""POST /v1/feedback and GET /v1/review-queue: append-only, idempotent per revision, refused with a 4xx
that says why (unknown report, leaf or department, a role that may not give it), and nothing half-written
when refused."""

from __future__ import annotations

import polars as pl
import pytest

from core.audit import AuditLog
from core.feedback_store import SqliteFeedbackStore
from core.tables import GRIDS_FILE

NOISE = "矛盾纠纷/邻里纠纷/噪音扰邻纠纷"
OTHER_LEAF = "城市管理/市容秩序/占道经营"
REPORT = {
    "id": "r1",
    "title": "楼上装修噪音",
    "text": "英祥春天小区3号楼502住户每天晚上十一点后还在装修，电钻声很大，电话13812345678。",
    "grid_id": "G1",
    "reported_at": "2026-11-30T09:00:00",
}


@pytest.fixture
def taken_in(client, settings):
    tables = settings.dashboard_tables_dir
    tables.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"grid_id": ["G1"], "x_m": [0.0], "y_m": [0.0]}).write_parquet(tables / GRIDS_FILE)
    settings.report_store_path.parent.mkdir(parents=True, exist_ok=True)
    second = {**REPORT, "id": "r2", "text": "井盖松动了，有人差点踩空。", "title": None}
    response = client.post("/v1/intake", json={"items": [REPORT, second]})
    assert response.status_code == 200, response.text
    return SqliteFeedbackStore(settings.report_store_path)


@pytest.fixture
def supervisor(api_keys):
    return {"X-API-Key": api_keys["supervisor"]}


def _leaf_in_taxonomy(leaf: str) -> str:
    from features.taxonomy import load_taxonomy

    assert leaf in load_taxonomy().leaf_ids, leaf
    return leaf


def test_intake_keeps_what_the_model_answered(taken_in):
    answers = taken_in.answers(["r1", "r2"])
    assert answers["r1"].leaf_id == NOISE and answers["r1"].model_version == "7"
    assert answers["r1"].margin == pytest.approx(0.4 - 0.6)  # the fake's top two: 0.4, then 0.6 listed second


def test_a_correction_is_recorded_with_who_when_and_the_answering_version(
    client, taken_in, supervisor, settings
):
    body = {"report_id": "r1", "revision": 1, "leaf_id": _leaf_in_taxonomy(OTHER_LEAF)}
    response = client.post("/v1/feedback", json=body, headers=supervisor)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["status"] == "recorded" and answer["corrected"] is True
    assert answer["answered_by"] == {"name": "gridsense-text", "version": "7"}
    [stored] = taken_in.feedback()
    assert stored.role == "supervisor" and stored.answered_leaf_id == NOISE and stored.leaf_id == OTHER_LEAF
    assert "13812345678" not in stored.text and "装修" in stored.text
    [entry] = [e for e in AuditLog(settings.audit_log_path).read() if e["action"] == "feedback"]
    assert entry["report_id"] == "r1" and entry["corrected"] is True


def test_the_same_revision_again_is_idempotent_and_other_content_is_a_conflict(client, taken_in, supervisor):
    body = {"report_id": "r1", "revision": 1, "leaf_id": NOISE}
    assert client.post("/v1/feedback", json=body, headers=supervisor).status_code == 201
    again = client.post("/v1/feedback", json=body, headers=supervisor)
    assert again.status_code == 200 and again.json()["status"] == "already_recorded"
    changed = client.post(
        "/v1/feedback", json={**body, "leaf_id": _leaf_in_taxonomy(OTHER_LEAF)}, headers=supervisor
    )
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "revision_conflict"
    nxt = client.post("/v1/feedback", json={**body, "revision": 2, "leaf_id": OTHER_LEAF}, headers=supervisor)
    assert nxt.status_code == 201
    assert [(f.revision, f.leaf_id) for f in taken_in.feedback()] == [(1, NOISE), (2, OTHER_LEAF)]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"report_id": "nope", "revision": 1, "leaf_id": NOISE}, 404, "unknown_report", "report_id"),
        ({"report_id": "r1", "revision": 1, "leaf_id": "不存在/的/类别"}, 422, "invalid_feedback", "leaf_id"),
        (
            {"report_id": "r1", "revision": 1, "department": "月球管理局"},
            422,
            "invalid_feedback",
            "department",
        ),
        ({"report_id": "r1", "revision": 1, "duplicate_of": "r1"}, 422, "invalid_feedback", "duplicate_of"),
        ({"report_id": "r1", "revision": 1, "duplicate_of": "zz"}, 422, "invalid_feedback", "duplicate_of"),
        (
            {"report_id": "r1", "revision": 1, "invalid_reason": "test"},
            422,
            "invalid_feedback",
            "invalid_reason",
        ),
        ({"report_id": "r1", "revision": 0, "leaf_id": NOISE}, 422, "validation_error", None),
    ],
)
def test_refused_feedback_says_why_and_writes_nothing(
    client, taken_in, supervisor, settings, body, status, code, field
):
    response = client.post("/v1/feedback", json=body, headers=supervisor)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error["field"] == field
    assert taken_in.feedback() == []
    assert not [e for e in AuditLog(settings.audit_log_path).read() if e["action"] == "feedback"]


def test_a_data_scientist_key_may_not_write_labels_and_intake_may_not_read_the_queue(
    client, taken_in, api_keys
):
    body = {"report_id": "r1", "revision": 1, "leaf_id": NOISE}
    refused = client.post("/v1/feedback", json=body, headers={"X-API-Key": api_keys["data_scientist"]})
    assert refused.status_code == 403 and "feedback" in refused.json()["error"]["message"]
    queue = client.get("/v1/review-queue", headers={"X-API-Key": api_keys["intake"]})
    assert queue.status_code == 403
    assert (
        client.post("/v1/feedback", json=body, headers={"X-API-Key": api_keys["intake"]}).status_code == 201
    )
    assert len(taken_in.feedback()) == 1


def test_the_review_queue_ranks_unreviewed_reports_and_drops_reviewed_ones(client, taken_in, supervisor):
    queue = client.get("/v1/review-queue", headers=supervisor).json()
    assert queue["unreviewed"] == 2
    ids = [item["report_id"] for item in queue["items"]]
    assert ids[0] == "r1"  # the fake is unsure about r1 (0.4) and sure about r2 (0.9)
    assert queue["items"][0]["reasons"]["uncertainty"] > queue["items"][1]["reasons"]["uncertainty"]
    assert "13812345678" not in queue["items"][0]["text"]
    client.post("/v1/feedback", json={"report_id": "r1", "revision": 1, "leaf_id": NOISE}, headers=supervisor)
    after = client.get("/v1/review-queue", headers=supervisor).json()
    assert [item["report_id"] for item in after["items"]] == ["r2"]
