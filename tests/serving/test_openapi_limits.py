"""The OpenAPI document states the request limits the service enforces, from the same settings."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from serving.main import create_app


def classify_schemas(settings: Settings) -> tuple[dict, dict]:
    schemas = TestClient(create_app(settings)).get("/openapi.json").json()["components"]["schemas"]
    return schemas["ClassifyItem"]["properties"], schemas["BatchClassifyRequest"]["properties"]


def string_branch(schema: dict) -> dict:
    return next((b for b in schema.get("anyOf", []) if b.get("type") == "string"), schema)


def test_text_must_be_non_blank_and_within_the_limit(tmp_path):
    item, batch = classify_schemas(Settings(home=tmp_path, max_text_chars=1234, max_batch=17))

    assert item["text"]["minLength"] == 1
    assert re.search(item["text"]["pattern"], "  a ") and not re.search(item["text"]["pattern"], " \t\n")
    assert item["text"]["maxLength"] == 1234
    assert string_branch(item["title"])["maxLength"] == 1234
    assert batch["items"]["minItems"] == 1 and batch["items"]["maxItems"] == 17


def test_truncating_long_text_drops_the_max_length_and_says_so(tmp_path):
    item, _ = classify_schemas(Settings(home=tmp_path, max_text_chars=300, long_text="truncate"))

    assert "maxLength" not in item["text"]
    assert "Over 300 characters" in item["text"]["description"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": ""}, 422),
        ({"text": " \n\t"}, 422),
        ({"text": "a" * 51}, 413),  # the fixtures' service allows 50 characters
        ({"items": [{"text": "a"}] * 5}, 413),  # and 4 items
    ],
)
def test_what_the_schema_refuses_the_api_refuses(client, body, status):
    assert client.post("/v1/classify", json=body).status_code == status
