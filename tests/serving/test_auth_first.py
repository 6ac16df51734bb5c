"""The key and role are checked before the body is read or parsed, and before query and path values
are validated: a request without a valid key is a 401, one with the wrong role a 403, never a 422."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from serving.auth import KeyFirstRoute, Permission, require

from .test_auth_matrix import operations

BROKEN_JSON = b'{"text": "unterminated'
BAD_QUERY = {"week": "2026-13-99", "weeks": "-5", "limit": "many", "group": "nonsense", "top": "0"}


class Note(BaseModel):
    text: str


def test_invalid_json_without_a_key_is_401_on_every_route(app, assert_error):
    client = TestClient(app, raise_server_exceptions=False)
    for method, path in operations(client):
        if path == "/healthz":
            continue
        response = client.request(
            method,
            path.replace("{grid_id}", "G0001"),
            content=BROKEN_JSON,
            params=BAD_QUERY,
            headers={"Content-Type": "application/json"},
        )
        assert_error(response, 401, "unauthorized", None)


def test_invalid_json_on_classify_with_an_unknown_key_is_401(app, assert_error):
    response = TestClient(app).post(
        "/v1/classify",
        content=BROKEN_JSON,
        headers={"Content-Type": "application/json", "X-API-Key": "gs_000000000000_nope"},
    )

    assert_error(response, 401, "unauthorized", None)


def test_a_bad_query_with_the_wrong_role_is_403(app, api_keys, assert_error):
    client = TestClient(app, headers={"X-API-Key": api_keys["intake"]})

    assert_error(client.get("/v1/risk", params={"week": "2026-13-99"}), 403, "forbidden", None)
    assert_error(client.get("/v1/grids/weekly", params={"weeks": "-5"}), 403, "forbidden", None)


@pytest.fixture
def admin_body_route(app):
    """A route with a JSON body that only data_scientist keys may call (the API's body route, classify,
    is open to every role)."""
    router = APIRouter(route_class=KeyFirstRoute, dependencies=[require(Permission.ADMIN)])
    seen: list[Note] = []

    @router.post("/test/admin-note")
    async def note(body: Note) -> dict[str, str]:
        seen.append(body)
        return {"text": body.text}

    app.include_router(router)
    return seen


def test_a_broken_body_with_the_wrong_role_is_403_before_parsing(
    app, api_keys, admin_body_route, assert_error
):
    client = TestClient(app)
    headers = {"Content-Type": "application/json"}

    wrong_role = client.post(
        "/test/admin-note", content=BROKEN_JSON, headers={**headers, "X-API-Key": api_keys["intake"]}
    )
    right_role = client.post(
        "/test/admin-note", content=BROKEN_JSON, headers={**headers, "X-API-Key": api_keys["data_scientist"]}
    )
    valid = client.post(
        "/test/admin-note", json={"text": "ok"}, headers={"X-API-Key": api_keys["data_scientist"]}
    )

    assert_error(wrong_role, 403, "forbidden", None)
    assert_error(right_role, 422, "validation_error", "body")  # parsed only once the key may call it
    assert valid.json() == {"text": "ok"} and len(admin_body_route) == 1


def test_the_body_is_not_read_for_a_refused_key(app, api_keys):
    """The endpoint's body is never received when the key is refused (the body stream would raise)."""
    received: list[dict] = []
    inner = app.build_middleware_stack()

    async def asgi(scope, receive, send):
        async def spy():
            message = await receive()
            received.append(message)
            return message

        await inner(scope, spy, send)

    app.middleware_stack = asgi
    response = TestClient(app).post("/v1/classify", json={"text": "楼道堵塞"}, headers={"X-API-Key": "nope"})

    assert response.status_code == 401
    assert received == []


def test_the_principal_is_checked_once_and_reused(client, api_keys):
    """With a valid key the request goes through as before (the dependency reuses the checked key)."""
    response = client.post(
        "/v1/classify", json={"text": "小区井盖松动"}, headers={"X-API-Key": api_keys["intake"]}
    )

    assert response.status_code == 200, response.text
