"""Bad input gets a 4xx JSON error naming the field: never a 5xx, never a hang. (Empty text, wrong JSON
types, too many items and unknown grids are covered in test_api_classify / test_api_risk.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from serving.deps import get_resources
from serving.main import create_app
from serving.resources import Resources
from serving.text_service import TextClassifierService

from .conftest import FakeClassifier, FakeRegistry

pytestmark = pytest.mark.timeout(30)
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("raw", "position"),
    [
        (b'{"text": "\xff\xfe"}', 10),
        (b'{"text": "\xe5\x99"}', 10),  # a truncated multi-byte character
        (b'{"text": "ok", "title": "\xc0\xaf"}', 25),  # an overlong encoding of "/"
    ],
)
def test_invalid_utf8_body_is_400_naming_the_body(client, assert_error, raw, position):
    error = assert_error(
        client.post("/v1/classify", content=raw, headers=JSON), 400, "invalid_encoding", "body"
    )

    assert "UTF-8" in error["message"] and f"position {position}" in error["message"]


def test_invalid_utf8_in_a_query_parameter_is_400_naming_it(client, assert_error):
    error = assert_error(
        client.get("/v1/risk?grid_id=G0001&grid_id=%FF%FE"), 400, "invalid_encoding", "grid_id"
    )

    assert "UTF-8" in error["message"]


def test_valid_percent_encoded_utf8_is_fine(client, assert_error):
    assert_error(client.get("/v1/risk?grid_id=%E7%BD%91%E6%A0%BC1"), 404, "unknown_grid", "grid_id")


@pytest.mark.parametrize("text", ["\ud800 半个代理对", "ok"])
def test_lone_surrogates_are_422(client, assert_error, text):
    body = '{{"text": "{}", "id": "\\udc00"}}'.format(text.encode("unicode_escape").decode())

    assert_error(client.post("/v1/classify", content=body, headers=JSON), 422, "validation_error", "id")


@pytest.mark.parametrize(
    "week", ["2026-13-01", "yesterday", "2026-02-30", "", "20260112", "1768176000", "2026-01-12T00:00:00"]
)
def test_malformed_dates_are_422_naming_week(client, assert_error, week):
    assert_error(client.get("/v1/risk", params={"week": week}), 422, "validation_error", "week")


def test_the_served_week_is_accepted_and_others_are_404(client, assert_error):
    assert client.get("/v1/risk", params={"week": "2026-01-12"}).status_code == 200

    error = assert_error(client.get("/v1/risk", params={"week": "2026-01-05"}), 404, "unknown_week", "week")
    assert error["available_weeks"] == ["2026-01-12"]


def test_a_body_over_the_byte_limit_is_413_before_it_is_read(client, assert_error):
    body = b'{"text": "' + b"a" * 9_000_000 + b'"}'

    assert_error(client.post("/v1/classify", content=body, headers=JSON), 413, "payload_too_large", "body")


def test_a_streamed_body_over_the_limit_is_413(client, assert_error):
    def chunks():
        yield b'{"text": "'
        for _ in range(100):
            yield b"a" * 100_000
        yield b'"}'

    assert_error(
        client.post("/v1/classify", content=chunks(), headers=JSON), 413, "payload_too_large", "body"
    )


def test_long_text_can_be_truncated_and_flagged_instead(tmp_path, admin_headers, store, api_keys):
    settings = Settings(home=tmp_path, long_text="truncate", max_text_chars=10, reload_interval_seconds=0)
    app = create_app(settings)
    classifier = FakeClassifier()
    service = TextClassifierService(
        classifier, "gridsense-text", "7", max_text_chars=10, long_text="truncate"
    )
    loaded = Resources.fixed(FakeRegistry(), text_service=service, forecast_store=store)
    app.dependency_overrides[get_resources] = lambda: loaded

    response = TestClient(app, headers=admin_headers).post(
        "/v1/classify", json={"items": [{"text": "井盖" * 20}, {"text": "短"}]}
    )

    assert response.status_code == 200, response.text
    assert [r["truncated"] for r in response.json()["results"]] == [True, False]
    assert classifier.calls[0]["texts"] == ["井盖" * 5, "短"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_that_is_not_json_is_4xx(client, content_type):
    response = client.post("/v1/classify", content=b'{"text": "ok"}', headers={"Content-Type": content_type})

    assert 400 <= response.status_code < 500
    assert response.json()["error"]["field"] == "body"
