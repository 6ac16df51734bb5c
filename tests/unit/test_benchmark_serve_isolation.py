"""The isolation benchmark's client and figures, against a tiny fake server (the real run needs a
trained champion: docs/BENCHMARKS.md, "Isolation")."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from evaluation.load_isolation import (
    LONE_SURROGATE,
    _phase,
    phases_table,
    poisoned_batch,
    poisoned_requests,
    poisoned_table,
)
from evaluation.load_test import Sample, http_request


def test_the_poisoned_bodies_are_valid_json_carrying_the_poison():
    requests = dict(poisoned_requests("key"))

    bodies = {name: json.loads(raw.split(b"\r\n\r\n", 1)[1]) for name, raw in requests.items()}

    assert bodies["text"] == {"text": LONE_SURROGATE}
    assert bodies["batch item"]["items"][1]["text"] == LONE_SURROGATE
    assert b"?evidence=true" in requests["evidence"].split(b"\r\n", 1)[0]
    assert "\x00" in bodies["NUL byte"]["text"]


@pytest.mark.timeout(30)
def test_poisoned_batch_counts_failed_valid_requests_and_closed_connections():
    """The fake server fails the poisoned request and every third valid one, and closes the connection
    after the poisoned one (as uvicorn did after an unhandled error)."""

    async def scenario():
        counter = {"valid": 0}

        async def handle(reader, writer):
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
                body = await reader.readexactly(length)
                poisoned = b"\\ud800" in body or b"\\u0000" in body
                if not poisoned:
                    counter["valid"] += 1
                failed = poisoned or counter["valid"] % 3 == 0
                status = b"500 Internal Server Error" if failed else b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
                if poisoned:
                    break
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        valid = lambda rng: http_request("POST", "/v1/classify", "key", b'{"text": "ok"}')  # noqa: E731
        result = await poisoned_batch(port, valid, "key", rounds=2, per_round=6)
        server.close()
        await server.wait_closed()
        return result

    result = asyncio.run(scenario())

    assert [r.poisoned_status for r in result.rounds] == [500, 500]
    assert result.valid_failed == 4  # every third of 12
    assert result.connections_closed == 2  # one per round, reopened for the next
    assert "4 of 12 valid requests failed" in poisoned_table(result)


def test_phases_pool_their_rounds_and_compare_with_alone():
    alone = _phase("alone", [[Sample(0, 0.010, 200, "")] * 50, [Sample(0, 0.020, 200, "")] * 50], [])
    beside = _phase(
        "beside x", [[Sample(0, 0.030, 200, "")] * 100], [Sample(0, 1.0, 200, ""), Sample(0, 1.0, 413, "")]
    )

    table = phases_table("t", [alone, beside])

    assert alone.requests == 100 and alone.p99_by_round_ms == [10.0, 20.0]
    assert beside.heavy_statuses == {"200": 1, "413": 1}
    assert "x1.50" in table  # 30 ms against the pooled alone p99 of 20 ms
