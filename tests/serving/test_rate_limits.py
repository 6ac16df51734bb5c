"""Per-API-key rate limits: each role has its own, counted per key; over the limit is a 429 in the error
envelope with Retry-After."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from core.keys import KeyFile, Role
from core.settings import Settings
from serving.deps import get_resources
from serving.main import create_app
from serving.rate_limit import RateLimitedError, RateLimiter
from serving.resources import Resources

from .conftest import FakeRegistry


@pytest.fixture
def limited(tmp_path, text_service, store):
    settings = Settings(
        home=tmp_path,
        reload_interval_seconds=0,
        keys_refresh_seconds=0,
        rate_limit_intake="3/minute",
        rate_limit_supervisor="",
        rate_limit_data_scientist="100/second",
    )
    key_file = KeyFile(settings.api_keys_path)
    keys = {
        "intake": key_file.create(Role.INTAKE, label="a").key,
        "intake2": key_file.create(Role.INTAKE, label="b").key,
        "supervisor": key_file.create(Role.SUPERVISOR, label="c").key,
    }
    app = create_app(settings)
    loaded = Resources.fixed(FakeRegistry(), text_service=text_service, forecast_store=store)
    app.dependency_overrides[get_resources] = lambda: loaded
    return TestClient(app), keys


def classify(client: TestClient, key: str):
    return client.post("/v1/classify", json={"text": "井盖松动"}, headers={"X-API-Key": key})


def test_a_key_over_its_roles_limit_gets_429_with_retry_after(limited, assert_error):
    client, keys = limited

    answers = [classify(client, keys["intake"]) for _ in range(4)]

    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    error = assert_error(answers[3], 429, "rate_limited", None)
    assert "3 per 1 minute" in error["message"]
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60


def test_limits_are_per_key_and_per_role(limited):
    client, keys = limited
    for _ in range(4):
        classify(client, keys["intake"])

    assert classify(client, keys["intake2"]).status_code == 200  # another intake key: its own count
    assert all(classify(client, keys["supervisor"]).status_code == 200 for _ in range(10))  # no limit


def test_unauthenticated_and_open_routes_are_not_counted(limited):
    client, keys = limited

    assert all(client.get("/healthz").status_code == 200 for _ in range(5))
    assert all(classify(client, "not-a-key").status_code == 401 for _ in range(5))
    assert classify(client, keys["intake"]).status_code == 200


def test_a_refused_request_is_not_counted_against_the_other_limits():
    limiter = RateLimiter({Role.INTAKE: "2/second;3/minute"})

    async def calls() -> list[str]:
        outcomes = []
        for _ in range(5):
            try:
                await limiter.check("k1", Role.INTAKE)
                outcomes.append("ok")
            except RateLimitedError as error:
                outcomes.append(error.headers["Retry-After"])
        return outcomes

    outcomes = asyncio.run(calls())

    assert outcomes[:2] == ["ok", "ok"] and outcomes[2:] == ["1", "1", "1"]


def test_a_malformed_limit_or_an_unusable_storage_stops_the_app_at_start(tmp_path):
    with pytest.raises(ValueError):
        create_app(Settings(home=tmp_path, rate_limit_intake="lots per hour"))
    with pytest.raises(Exception, match="redis"):  # the Redis client is not installed here
        create_app(Settings(home=tmp_path, rate_limit_storage_uri="redis://127.0.0.1:1/0"))


def test_the_schema_documents_429_and_retry_after(client):
    operation = client.get("/openapi.json").json()["paths"]["/v1/classify"]["post"]

    assert "Retry-After" in operation["responses"]["429"]["headers"]
