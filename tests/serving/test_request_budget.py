"""Each classify request's cost is bounded: characters in all, and with evidence (which reads each report
about 13 times, work that cannot be sliced) fewer reports and shorter ones. Over budget is a 413 that
says the limit, before the model runs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from serving.deps import get_resources
from serving.main import create_app
from serving.resources import Resources
from serving.text_service import EVIDENCE_COST_FACTOR, PreparedItem, TextClassifierService

from .conftest import FakeClassifier, FakeRegistry

LIMITS = {"max_request_chars": 100, "max_evidence_items": 2, "max_evidence_text_chars": 10}


@pytest.fixture
def budget_client(tmp_path, api_keys):
    classifier = FakeClassifier()
    settings = Settings(home=tmp_path, reload_interval_seconds=0, keys_refresh_seconds=0, **LIMITS)
    app = create_app(settings)
    service = TextClassifierService(classifier, "gridsense-text", "7", max_text_chars=60, **LIMITS)
    app.dependency_overrides[get_resources] = lambda: Resources.fixed(FakeRegistry(), text_service=service)
    client = TestClient(app, headers={"X-API-Key": api_keys["intake"]})
    client.classifier = classifier
    return client


def batch(*texts: str) -> dict:
    return {"items": [{"text": text} for text in texts]}


def test_a_request_over_the_character_budget_is_413_naming_the_limit(budget_client, assert_error):
    response = budget_client.post("/v1/classify", json=batch("噪" * 50, "井" * 51))

    error = assert_error(response, 413, "payload_too_large", "items")
    assert "101 characters" in error["message"] and "at most 100" in error["message"]
    assert budget_client.classifier.calls == []


def test_titles_count_towards_the_budget(budget_client, assert_error):
    items = {"items": [{"title": "标" * 30, "text": "噪" * 40}, {"text": "井" * 30}]}  # 30 + 1 + 40 + 30

    assert_error(budget_client.post("/v1/classify", json=items), 413, "payload_too_large", "items")


def test_evidence_is_refused_for_too_many_or_too_long_reports(budget_client, assert_error):
    too_many = budget_client.post("/v1/classify?evidence=true", json=batch("井盖", "噪音", "垃圾"))
    too_long = budget_client.post("/v1/classify?evidence=true", json=batch("井盖", "井盖松动" * 3))
    with_title = budget_client.post(
        "/v1/classify?evidence=true", json={"title": "井盖松动翘起", "text": "很危险啊"}
    )

    error = assert_error(too_many, 413, "payload_too_large", "evidence")
    assert "at most 2 items" in error["message"]
    error = assert_error(too_long, 413, "payload_too_large", "items[1].text")
    assert "at most 10 characters" in error["message"] and "not 12" in error["message"]
    assert_error(with_title, 413, "payload_too_large", "text")  # the title counts: 6 + 1 + 4 characters
    assert budget_client.classifier.calls == []


def test_the_same_requests_without_evidence_or_within_budget_are_served(budget_client):
    without = budget_client.post("/v1/classify", json=batch("井盖", "噪音", "垃圾"))
    within = budget_client.post("/v1/classify?evidence=true", json=batch("井盖松动了", "噪音扰民"))
    at_limit = budget_client.post("/v1/classify", json=batch("噪" * 50, "井" * 50))

    assert [r.status_code for r in (without, within, at_limit)] == [200, 200, 200]
    assert within.json()["results"][0]["evidence"] is not None


def test_an_item_costs_its_characters_and_more_with_evidence():
    assert PreparedItem("0", "井盖松动了").cost == 5
    assert PreparedItem("0", "井盖松动了", evidence=True).cost == 5 * EVIDENCE_COST_FACTOR


def test_the_default_worst_case_is_bounded():
    """The defaults: at most 200,000 characters a request (the issue's 256 x 5,000 = 1.28 M is refused);
    evidence for at most 16 reports of 1,000 characters, each report's evidence a few slices' work."""
    settings = Settings()

    assert settings.max_request_chars < settings.max_batch * settings.max_text_chars
    evidence_cost = settings.max_evidence_items * settings.max_evidence_text_chars * EVIDENCE_COST_FACTOR
    assert evidence_cost <= 2 * settings.max_request_chars
    assert settings.max_evidence_text_chars * EVIDENCE_COST_FACTOR <= 4 * settings.microbatch_max_chars
