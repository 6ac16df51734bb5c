"""Can one request hurt the others? Two experiments against a real server (`gridsense benchmark serve`
starts it on 127.0.0.1; scenarios `poisoned_batch`, `worst_case`, `worst_case_unbounded`).

- `poisoned_batch`: rounds of `valid` single-report requests sent at the same moment, on their own
  keep-alive connections, together with one poisoned request (a lone surrogate in the text, the title,
  a batch item, with evidence=true; a NUL byte). Counts the valid requests that fail, the poisoned
  requests' statuses and the keep-alive connections the server closes.
- `worst_case`: single-report latency from `concurrency` connections, alone and while one more
  connection sends the most expensive request the limits allow, back to back (evidence for the most and
  longest reports allowed; the largest batch without evidence), phases interleaved over 3 rounds in the
  same run and pooled per kind. `worst_case_unbounded`
  repeats it on a server without the request budget and without slicing (the settings before issue 10)
  with the request of the issue: 256 reports x 5,000 characters, evidence=true.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from evaluation.load_test import HOST, RequestMaker, Sample, _read_response, drive, http_request

LONE_SURROGATE = "abc\ud800def"

# The settings of the server before issue 10: any batch of 256 x 5,000 characters with evidence, one
# model call per micro-batch.
UNBOUNDED_ENV = {
    "GRIDSENSE_MAX_REQUEST_CHARS": str(256 * 5000),
    "GRIDSENSE_MAX_EVIDENCE_ITEMS": "256",
    "GRIDSENSE_MAX_EVIDENCE_TEXT_CHARS": "5000",
    "GRIDSENSE_MICROBATCH_MAX_CHARS": str(10**12),
    "GRIDSENSE_MICROBATCH_MAX_ITEMS": "256",
}


# ---- poisoned requests ----------------------------------------------------------------------------------
def poisoned_requests(key: str) -> list[tuple[str, bytes]]:
    """(name, raw HTTP request): the JSON is written with \\u escapes, so each body is valid JSON."""
    bodies = {
        "text": ("/v1/classify", {"text": LONE_SURROGATE}),
        "title": ("/v1/classify", {"title": LONE_SURROGATE, "text": "楼道堆满杂物"}),
        "batch item": ("/v1/classify", {"items": [{"text": "楼道堆满杂物"}, {"text": LONE_SURROGATE}]}),
        "evidence": ("/v1/classify?evidence=true", {"text": LONE_SURROGATE}),
        "NUL byte": ("/v1/classify", {"text": "abc\x00def"}),
    }
    return [
        (name, http_request("POST", path, key, json.dumps(body).encode()))
        for name, (path, body) in bodies.items()
    ]


@dataclass
class PoisonedRound:
    poison: str
    poisoned_status: int
    valid_failed: int
    valid_statuses: dict[str, int]
    connections_closed: int


@dataclass
class PoisonedResult:
    rounds: list[PoisonedRound]
    valid_per_round: int

    @property
    def valid_failed(self) -> int:
        return sum(r.valid_failed for r in self.rounds)

    @property
    def connections_closed(self) -> int:
        return sum(r.connections_closed for r in self.rounds)

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "valid_sent": self.valid_per_round * len(self.rounds),
            "valid_failed": self.valid_failed,
            "connections_closed": self.connections_closed,
        }


class _Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> int:
        """The status, or 0 if the connection failed."""
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            self.writer.write(request)
            assert self.reader is not None
            status, _ = await asyncio.wait_for(_read_response(self.reader), timeout=60)
            return status
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            self.close()
            return 0

    async def closed_by_server(self) -> bool:
        """True (and forgotten) if the server closed this keep-alive connection."""
        if self.reader is None:
            return False
        await asyncio.sleep(0.05)
        if self.reader.at_eof():
            self.close()
            return True
        return False

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def poisoned_batch(port: int, valid: RequestMaker, key: str, rounds: int = 5, per_round: int = 30):
    """`rounds` x (`per_round` valid requests + 1 poisoned), each round's requests sent at once."""
    import random

    rng = random.Random(0)
    poisons = poisoned_requests(key)
    connections = [_Connection(port) for _ in range(per_round + 1)]
    results = []
    for index in range(rounds):
        name, poison = poisons[index % len(poisons)]
        requests = [valid(rng) for _ in range(per_round)] + [poison]
        statuses = await asyncio.gather(*(c.send(r) for c, r in zip(connections, requests, strict=True)))
        closed = await asyncio.gather(*(c.closed_by_server() for c in connections))
        valid_statuses = statuses[:per_round]
        results.append(
            PoisonedRound(
                poison=name,
                poisoned_status=statuses[-1],
                valid_failed=sum(1 for status in valid_statuses if status != 200),
                valid_statuses={str(s): valid_statuses.count(s) for s in sorted(set(valid_statuses))},
                connections_closed=sum(closed),
            )
        )
    for connection in connections:
        connection.close()
    return PoisonedResult(results, per_round)


# ---- the worst case allowed beside single reports ------------------------------------------------------
@dataclass
class Phase:
    """One kind of phase, its samples pooled over the rounds (the machine's load drifts; interleaving
    the kinds and pooling them compares like with like)."""

    name: str
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    p99_by_round_ms: list[float] = field(default_factory=list)
    heavy_requests: int = 0
    heavy_statuses: dict[str, int] = field(default_factory=dict)
    heavy_p50_ms: float = float("nan")


def long_text(reports: list[str], chars: int) -> str:
    text = ""
    while len(text) < chars:
        text += "".join(reports)
    return text[:chars]


def heavy_batch(reports: list[str], key: str, items: int, chars_per_item: int, evidence: bool) -> bytes:
    text = long_text(reports, chars_per_item)
    body = {"items": [{"id": str(i), "text": text[i:] + text[:i]} for i in range(items)]}
    path = "/v1/classify?evidence=true" if evidence else "/v1/classify"
    return http_request("POST", path, key, json.dumps(body, ensure_ascii=False).encode())


def worst_case_requests(reports: list[str], key: str) -> dict[str, bytes]:
    """The most expensive requests the serving settings allow (evidence; no evidence)."""
    from core.settings import Settings

    limits = Settings()
    evidence_items = min(limits.max_evidence_items, limits.max_batch)
    plain_items = limits.max_batch
    return {
        "evidence": heavy_batch(
            reports,
            key,
            evidence_items,
            min(limits.max_text_chars, limits.max_evidence_text_chars),
            evidence=True,
        ),
        "plain": heavy_batch(
            reports,
            key,
            plain_items,
            min(limits.max_text_chars, limits.max_request_chars // plain_items),
            False,
        ),
    }


def _percentile(samples: list[Sample], q: float) -> float:
    return round(float(np.percentile([s.latency * 1000 for s in samples], q)), 1) if samples else float("nan")


def _phase(name: str, rounds: list[list[Sample]], heavy: list[Sample]) -> Phase:
    samples = [sample for round_samples in rounds for sample in round_samples]
    return Phase(
        name=name,
        requests=len(samples),
        errors=sum(1 for s in samples if s.status != 200),
        p50_ms=_percentile(samples, 50),
        p99_ms=_percentile(samples, 99),
        max_ms=_percentile(samples, 100),
        p99_by_round_ms=[_percentile(round_samples, 99) for round_samples in rounds],
        heavy_requests=len(heavy),
        heavy_statuses=dict(Counter(str(h.status) for h in heavy)),
        heavy_p50_ms=_percentile(heavy, 50),
    )


async def _beside(
    port: int, single: RequestMaker, heavy: bytes, concurrency: int, seconds: float
) -> tuple[list[Sample], list[Sample]]:
    """Single reports on `concurrency` connections while one connection sends `heavy` back to back."""
    heavy_samples: list[Sample] = []
    singles = asyncio.create_task(drive(port, single, concurrency, seconds, 1_000_000))
    began = time.perf_counter()
    connection = _Connection(port)
    while not singles.done():
        started = time.perf_counter()
        status = await connection.send(heavy)
        heavy_samples.append(Sample(started - began, time.perf_counter() - started, status, ""))
    connection.close()
    samples, _ = await singles
    return samples, heavy_samples


def worst_case(
    port: int,
    single: RequestMaker,
    heavy: dict[str, bytes],
    concurrency: int,
    seconds: float,
    rounds: int = 3,
) -> list[Phase]:
    """`rounds` x (singles alone, then beside each heavy request), `seconds` each, pooled per kind."""
    asyncio.run(drive(port, single, concurrency, 2.0, 2000))  # warm-up
    alone: list[list[Sample]] = []
    beside: dict[str, list[list[Sample]]] = {name: [] for name in heavy}
    heavy_samples: dict[str, list[Sample]] = {name: [] for name in heavy}
    for _ in range(rounds):
        alone.append(asyncio.run(drive(port, single, concurrency, seconds, 1_000_000))[0])
        for name, request in heavy.items():
            samples, heavy_done = asyncio.run(_beside(port, single, request, concurrency, seconds))
            beside[name].append(samples)
            heavy_samples[name] += heavy_done
    return [_phase("alone", alone, [])] + [
        _phase(f"beside {name}", beside[name], heavy_samples[name]) for name in heavy
    ]


def phases_table(title: str, phases: list[Phase]) -> str:
    alone = phases[0]
    lines = [
        f"{title}",
        "| phase | single requests | errors | p50 ms | p99 ms | p99 / alone | p99 per round ms | max ms "
        "| heavy requests | heavy statuses | heavy p50 ms |",
        "|" + "---|" * 11,
    ]
    for p in phases:
        by_round = ", ".join(str(value) for value in p.p99_by_round_ms)
        heavy_p50 = "" if np.isnan(p.heavy_p50_ms) else p.heavy_p50_ms
        lines.append(
            f"| {p.name} | {p.requests} | {p.errors} | {p.p50_ms} | {p.p99_ms} "
            f"| x{p.p99_ms / alone.p99_ms:.2f} | {by_round} | {p.max_ms} | {p.heavy_requests or ''} "
            f"| {p.heavy_statuses or ''} | {heavy_p50} |"
        )
    return "\n".join(lines)


def poisoned_table(result: PoisonedResult) -> str:
    sent = result.valid_per_round * len(result.rounds)
    lines = [
        f"poisoned_batch: {result.valid_failed} of {sent} valid requests failed; "
        f"{result.connections_closed} keep-alive connections closed by the server",
        "| round | poison | poisoned status | valid failed | valid statuses | connections closed |",
        "|---|---|---|---|---|---|",
    ]
    for index, r in enumerate(result.rounds, 1):
        lines.append(
            f"| {index} | {r.poison} | {r.poisoned_status} | {r.valid_failed} | {r.valid_statuses} | "
            f"{r.connections_closed} |"
        )
    return "\n".join(lines)
