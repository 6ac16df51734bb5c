"""POST /v1/intake: classification as /v1/classify, duplicates with ids and scores, storage, and clear
answers (never a 5xx) for no text, no place, an unknown grid and a missing store."""

from __future__ import annotations

import polars as pl
import pytest

from core.report_store import SqliteReportStore
from core.tables import GRIDS_FILE

NOISE = "矛盾纠纷/邻里纠纷/噪音扰邻纠纷"
FIRST = {
    "id": "r1",
    "title": "英祥春天小区楼上装修噪音",
    "text": "英祥春天小区3号楼502住户每天晚上十一点后还在装修，电钻声很大，电话13812345678。",
    "grid_id": "G1",
    "reported_at": "2026-11-30T09:00:00",
}
REPEAT = {
    "id": "r2",
    "title": "英祥春天小区3号楼装修噪音扰民",
    "text": "英祥春天小区3号楼502每晚十一点后装修，电钻声太大，老人睡不着。",
    "grid_id": "G2",
    "reported_at": "2026-12-01T20:00:00",
}


@pytest.fixture
def grids(settings):
    tables = settings.dashboard_tables_dir
    tables.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {"grid_id": ["G1", "G2", "G9"], "x_m": [0.0, 500.0, 9000.0], "y_m": [0.0, 0.0, 9000.0]}
    ).write_parquet(tables / GRIDS_FILE)
    settings.report_store_path.parent.mkdir(parents=True, exist_ok=True)
    return tables


def test_a_repeat_in_a_neighbouring_grid_is_a_duplicate_with_the_earlier_id(client, grids, settings):
    first = client.post("/v1/intake", json=FIRST)
    assert first.status_code == 200, first.text
    [result] = first.json()["results"]
    assert result["classification"]["leaf_id"] == NOISE
    assert result["duplicates"]["decision"] == "new" and result["stored"] == "stored"

    second = client.post("/v1/intake", json=REPEAT).json()
    [result] = second["results"]
    assert result["duplicates"]["decision"] == "duplicate", result
    [match] = result["duplicates"]["matches"]
    assert match["id"] == "r1" and match["score"] >= second["duplicate_model"]["duplicate_threshold"]
    [stored] = SqliteReportStore(settings.report_store_path).get(["r1"])
    assert "13812345678" not in stored.text


def test_same_template_about_another_estate_is_not_a_duplicate(client, grids):
    client.post("/v1/intake", json=FIRST)
    other = {**FIRST, "id": "r3", "title": "魅力之城小区楼上装修噪音"}
    other["text"] = FIRST["text"].replace("英祥春天", "魅力之城")
    [result] = client.post("/v1/intake", json=other).json()["results"]
    assert result["duplicates"]["decision"] != "duplicate"


def test_a_far_grid_is_not_searched_and_batches_see_their_earlier_items(client, grids):
    far = {**REPEAT, "id": "r9", "grid_id": "G9"}
    response = client.post("/v1/intake", json={"items": [FIRST, far, REPEAT]})
    results = response.json()["results"]
    assert [r["duplicates"]["decision"] for r in results] == ["new", "new", "duplicate"]
    assert results[2]["duplicates"]["matches"][0]["id"] == "r1"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"id": "x", "text": "   "}, "no_text"),
        ({"id": "x", "text": "有人在楼道里堆放杂物，堵住了消防通道。"}, "no_place"),
        ({"id": "x", "text": "楼道堆放杂物", "grid_id": "G404"}, "unknown_grid"),
    ],
)
def test_no_text_no_place_or_an_unknown_grid_is_answered_with_the_reason(client, grids, body, reason):
    response = client.post("/v1/intake", json=body)
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["duplicates"]["skipped"] == reason
    assert result["duplicates"]["decision"] is None and result["duplicates"]["detail"]
    if reason == "no_text":
        assert result["classification"] is None and result["not_classified"]
        assert result["stored"] == "not_stored"
    else:
        assert result["classification"]["leaf_id"]


def test_a_place_without_a_grid_finds_reports_naming_it(client, grids):
    client.post("/v1/intake", json={**FIRST, "grid_id": None})
    repeat = {**REPEAT, "grid_id": None}
    [result] = client.post("/v1/intake", json=repeat).json()["results"]
    assert result["duplicates"]["decision"] == "duplicate"


def test_a_missing_store_degrades_to_classification_and_keeps_the_report(client, settings, app):
    settings.report_store_path = settings.home / "missing" / "reports.sqlite"
    response = client.post("/v1/intake", json=FIRST)
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["classification"]["leaf_id"] == NOISE
    assert result["duplicates"]["skipped"] == "store_unavailable"
    assert result["stored"] == "spooled"
    ready = client.get("/readyz").json()
    assert any("report store" in warning for warning in ready["warnings"])

    settings.report_store_path.parent.mkdir()
    [again] = client.post("/v1/intake", json=REPEAT).json()["results"]
    assert again["stored"] == "stored"
    assert {r.id for r in SqliteReportStore(settings.report_store_path).get(["r1", "r2"])} == {"r1", "r2"}


def test_too_many_items_is_a_413(client, grids, assert_error):
    response = client.post("/v1/intake", json={"items": [FIRST] * 5})
    assert_error(response, 413, "payload_too_large", "items")


def test_intake_is_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/v1/intake"]


def test_context_params_score_pairs_whose_leaves_and_grids_are_known(client, grids, settings):
    from models.duplicates import CONTEXT_PARAMS_FILE

    settings.duplicate_context_params = CONTEXT_PARAMS_FILE
    client.post("/v1/intake", json=FIRST)
    other_words = {
        **REPEAT,
        "grid_id": "G1",
        "title": None,
        "text": "3号楼又有人半夜装修，电钻声吵得老人睡不着。",
    }
    [result] = client.post("/v1/intake", json=other_words).json()["results"]
    assert result["duplicates"]["matches"][0]["id"] == "r1"
    assert result["duplicates"]["decision"] == "duplicate"


def test_a_number_is_not_a_report_time(client, assert_error):
    response = client.post("/v1/intake", json={**FIRST, "reported_at": 0})
    assert response.status_code == 422, response.text


class FakeInvalidModel:
    """The gridsense-invalid pyfunc contract: title/text in, invalid/reason/confidence out."""

    def predict(self, frame):
        import pandas as pd

        invalid = frame["text"].str.contains("ceshi")
        return pd.DataFrame(
            {"invalid": invalid, "reason": ["test" if i else None for i in invalid], "confidence": 0.9}
        )


def test_the_invalid_model_s_verdict_is_in_the_answer_when_one_is_loaded(client, grids, app):
    client.post("/v1/intake", json=FIRST)  # builds the intake service
    slot = app.state.intake.invalid
    slot.model, slot.version = FakeInvalidModel(), "3"
    response = client.post("/v1/intake", json={"items": [{**REPEAT, "id": "t1", "text": "ceshi"}, REPEAT]})
    first, second = response.json()["results"]
    assert first["invalid"] == {
        "invalid": True,
        "reason": "test",
        "confidence": 0.9,
        "model": {"name": "gridsense-invalid", "version": "3"},
    }
    assert second["invalid"]["invalid"] is False and second["invalid"]["reason"] is None


def test_concurrent_intake_calls_each_get_their_own_answers_and_all_are_stored(client, grids, settings, app):
    from concurrent.futures import ThreadPoolExecutor

    from serving.intake_schemas import IntakeItem

    client.post("/v1/intake", json=FIRST)  # builds the intake service
    service = app.state.intake
    calls = [
        [IntakeItem(id=f"c{i}-{j}", text=f"{REPEAT['text']}第{i}次", grid_id="G2") for j in range(i % 3 + 1)]
        for i in range(12)
    ]
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda items: service.take_in(items, [i.id for i in items], {}, None, {}), calls)
        )
    for items, results in zip(calls, answers, strict=True):
        assert [r.id for r in results] == [i.id for i in items]
        assert all(r.stored == "stored" for r in results)
        assert results[0].duplicates.decision == "duplicate"  # the repeat of r1 (FIRST), whatever the batch
    stored = SqliteReportStore(settings.report_store_path).get([i.id for items in calls for i in items])
    assert len(stored) == sum(len(items) for items in calls)
