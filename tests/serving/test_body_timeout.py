"""A body that does not arrive in time is a 408 in the error envelope and closes the connection; a body
that arrives is not timed afterwards. Driven through the app's ASGI interface with a client that stalls."""

from __future__ import annotations

import asyncio
import json

import pytest

from core.settings import Settings
from serving.body_timeout import BodyTimeoutMiddleware
from serving.deps import get_resources
from serving.main import create_app


def request_scope(key: str, length: int) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/classify",
        "raw_path": b"/v1/classify",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
            (b"x-api-key", key.encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def call(app, scope: dict, chunks: list[bytes], stall: bool) -> tuple[int, dict, dict]:
    """Send `chunks` as the body, then (with `stall`) never the rest; return status, headers, body."""
    queue = list(chunks)
    sent: list[dict] = []

    async def receive() -> dict:
        if queue:
            return {"type": "http.request", "body": queue.pop(0), "more_body": bool(queue) or stall}
        await asyncio.Event().wait()  # the client sends nothing more
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    return start["status"], headers, json.loads(body)


@pytest.fixture
def timed_app(tmp_path, api_keys, loaded):
    """The fixtures' keys are in tmp_path's key file, which this app reads."""
    app = create_app(Settings(home=tmp_path, body_timeout_seconds=0.2, reload_interval_seconds=0))
    app.dependency_overrides[get_resources] = lambda: loaded
    return app


def test_a_body_that_never_comes_is_408_and_closes_the_connection(timed_app, api_keys):
    body = json.dumps({"text": "楼道堵塞"}).encode()
    scope = request_scope(api_keys["intake"], len(body))

    status, headers, error = asyncio.run(call(timed_app, scope, [body[:5]], stall=True))

    assert status == 408
    assert headers["connection"] == "close"
    assert error["error"]["code"] == "request_timeout"
    assert error["error"]["field"] == "body"
    assert error["error"]["request_id"] == headers["x-request-id"]


def test_a_body_that_comes_in_time_is_served(timed_app, api_keys):
    body = json.dumps({"text": "小区井盖松动"}).encode()
    scope = request_scope(api_keys["intake"], len(body))

    status, _, answer = asyncio.run(call(timed_app, scope, [body[:4], body[4:]], stall=False))

    assert status == 200, answer
    assert answer["results"][0]["leaf_id"].endswith("井盖破损")


def test_after_the_body_receive_is_not_timed():
    """A response waiting for the client to disconnect must not get a 408."""
    received: list[dict] = []

    async def app(scope, receive, send):
        received.append(await receive())  # the whole body
        received.append(await receive())  # waits past the deadline for a disconnect

    async def receive():
        if not received:
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await asyncio.sleep(0.3)
        return {"type": "http.disconnect"}

    async def send(message):
        raise AssertionError("nothing is sent")

    asyncio.run(BodyTimeoutMiddleware(app, seconds=0.1)({"type": "http"}, receive, send))

    assert [m["type"] for m in received] == ["http.request", "http.disconnect"]
