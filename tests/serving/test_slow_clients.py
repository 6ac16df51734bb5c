"""Raw sockets against the real server (`python -m serving.server`, uvicorn with the GridSense protocol)
on a loopback port, with 1 s header and body timeouts: slow or silent clients are closed, and every
refusal, the HTTP parser's own included, is the JSON error envelope.

Slow: the server process takes several seconds to start. Each wait below is bounded by the client's
socket timeout (10 s), far above the server's 1 s, so a test fails if the server does not act at all,
not if it is a little slow.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.keys import KeyFile, Role

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

CLIENT_WAIT = 10.0
ROOT = Path(__file__).parents[2]


@dataclass(frozen=True)
class Server:
    port: int
    key: str


@dataclass(frozen=True)
class Answer:
    status: int | None
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection (not our timeout)

    def error(self) -> dict:
        assert self.headers.get("content-type") == "application/json", self
        envelope = json.loads(self.body)
        assert set(envelope) == {"error"}
        assert {"code", "message", "field", "request_id"} <= set(envelope["error"])
        assert envelope["error"]["request_id"] == self.headers["x-request-id"]
        return envelope["error"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("slow-clients")
    key = KeyFile(home / ".gridsense" / "api_keys.json").create(Role.INTAKE, label="test").key
    port = _free_port()
    env = {
        **os.environ,
        "GRIDSENSE_HOME": str(home),
        "GRIDSENSE_RELOAD_INTERVAL_SECONDS": "0",
        "GRIDSENSE_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "serving.server", "--port", str(port)]
    command += ["--header-timeout", "1", "--body-timeout", "1"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_listening(port, process)
        yield Server(port, key)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_listening(port: int, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        answer = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", wait=2)
        if answer.status == 200:
            return
        time.sleep(0.5)
    raise RuntimeError("server did not start")


def exchange(port: int, data: bytes, wait: float = CLIENT_WAIT, then: bytes = b"") -> Answer:
    """Send `data`, then read until the server closes (or `wait` runs out); parse the first response."""
    try:
        connection = socket.create_connection(("127.0.0.1", port), timeout=wait)
    except OSError:
        return Answer(None, {}, b"", closed=False)
    received, closed = b"", False
    with connection:
        connection.sendall(data)
        if then:
            connection.sendall(then)
        try:
            while chunk := connection.recv(65536):
                received += chunk
            closed = True
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
    return parse(received, closed)


def parse(raw: bytes, closed: bool) -> Answer:
    if not raw:
        return Answer(None, {}, b"", closed)
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", len(rest)))
    return Answer(int(status_line.split()[1]), headers, rest[:length], closed)


def request(path: str, *headers: str, method: str = "POST") -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: t", *headers, "", ""]).encode()


# ---- slow clients ------------------------------------------------------------------------------------
def test_a_silent_connection_is_closed(server):
    answer = exchange(server.port, b"")

    assert answer.closed and answer.status is None


def test_half_sent_headers_get_a_408_and_are_closed(server):
    answer = exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Partial: ")

    assert answer.closed and answer.status == 408
    assert answer.error()["code"] == "request_timeout"


def test_a_promised_body_that_never_comes_is_408_with_a_key(server):
    head = request(
        "/v1/classify", f"X-API-Key: {server.key}", "Content-Type: application/json", "Content-Length: 100"
    )

    answer = exchange(server.port, head, then=b'{"text": "')

    assert answer.closed and answer.status == 408
    error = answer.error()
    assert (error["code"], error["field"]) == ("request_timeout", "body")


def test_a_promised_body_without_a_key_is_401_at_once_then_closed(server):
    head = request("/v1/classify", "Content-Type: application/json", "Content-Length: 100")

    answer = exchange(server.port, head)

    assert answer.closed and answer.status == 401
    assert answer.error()["code"] == "unauthorized"


@pytest.mark.parametrize("end", [b"\r\n\r\n", b""], ids=["complete", "never-ending"])
def test_an_oversized_request_head_is_431(server, end):
    head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 70_000 + end

    answer = exchange(server.port, head)

    assert answer.status == 431 and answer.closed
    assert answer.error()["code"] == "headers_too_large"


def test_a_large_head_under_the_limit_is_served(server):
    answer = exchange(
        server.port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 30_000 + b"\r\n\r\n"
    )

    assert answer.status == 200


def test_keep_alive_still_serves_several_requests(server):
    ping = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"

    answer = exchange(server.port, ping + ping)

    assert answer.status == 200 and answer.closed
    assert answer.body == b'{"status":"ok"}'


# ---- refusals of the HTTP parser, in the envelope ----------------------------------------------------
MALFORMED = {
    "negative content-length": request("/v1/classify", "Content-Length: -1"),
    "non-numeric content-length": request("/v1/classify", "Content-Length: abc"),
    "duplicate content-length": request("/v1/classify", "Content-Length: 3", "Content-Length: 4") + b"{}}",
    "content-length with chunked": request("/v1/classify", "Content-Length: 3", "Transfer-Encoding: chunked"),
    "broken chunk": request("/v1/classify", "Transfer-Encoding: chunked") + b"zz\r\n",
    "header line without a colon": b"GET /healthz HTTP/1.1\r\nHost: t\r\nbad header line\r\n\r\n",
    "NUL in a header": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n",
    "garbage request line": b"GARBAGE\r\n\r\n",
    "unknown HTTP version": b"GET /healthz HTTP/9.9\r\nHost: t\r\n\r\n",
    "non-ASCII path": "GET /ü HTTP/1.1\r\nHost: t\r\n\r\n".encode(),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_requests_get_a_json_400(server, data):
    answer = exchange(server.port, data)

    assert answer.status == 400 and answer.closed
    error = answer.error()
    assert error["code"] == "bad_request"
    assert error["message"].startswith("malformed HTTP request")


ODD = {
    "unknown path": (request("/nope", method="GET"), 404, "not_found"),
    "wrong method": (request("/v1/classify", method="DELETE"), 405, "method_not_allowed"),
    "websocket upgrade": (
        request(
            "/v1/risk",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
            method="GET",
        ),
        401,
        "unauthorized",
    ),
    # refused from the declared length alone, before anything is read (so before the key, too)
    "body over the limit": (request("/v1/classify", "Content-Length: 99000000"), 413, "payload_too_large"),
}


@pytest.mark.parametrize(("data", "status", "code"), ODD.values(), ids=ODD.keys())
def test_odd_requests_get_the_envelope(server, data, status, code):
    answer = exchange(server.port, data)

    assert answer.status == status
    assert answer.error()["code"] == code
