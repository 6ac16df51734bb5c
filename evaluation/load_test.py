"""`gridsense benchmark serve`: the API under load, on this machine only.

Starts `uvicorn serving.main:create_app` with N workers on 127.0.0.1 (a free port), then drives it with
a fixed number of keep-alive connections from this process. Every scenario is bounded twice: by time
and by a request budget; traffic goes to loopback only. Scenarios:

- `classify_single`: one report per POST /v1/classify;
- `classify_batch32`: 32 reports per request;
- `risk_read`: GET /v1/risk for one random grid;
- `intake_single`: one report per POST /v1/intake, in a random grid of the site (classified, searched for
  duplicates among the last 7 days of its grid and the neighbouring ones, stored);
- `intake_batch32`: 32 such reports per request (reports/s = req/s x 32);
- `intake_no_search`: one report per POST /v1/intake in a grid the site does not have: classified, checked
  by the invalid-report model, stored, its answer kept, but no duplicate search (`skipped: unknown_grid`):
  what single intake costs apart from the search, its ceiling if the search were free;
- `alias_swap`: single classify while the registry alias `champion` is moved to another version of the
  same model half-way (a copy of the champion's artifacts registered as a new version, so the workers
  really download, load, smoke-test and swap it); the alias is put back afterwards;
- `poisoned_batch`, `worst_case`, `worst_case_unbounded`: can one request hurt the others
  (evaluation/load_isolation.py).

Reported per scenario: throughput, p50/p95/p99/max latency, error rate, the model versions that
answered; for the swap, the worst p99 of any 250 ms window after the swap against 3x the p99 before it.
The load generator is a minimal asyncio HTTP/1.1 client (an HTTP library would cost more CPU than the
server on a 2-core machine). It needs a trained champion (`gridsense demo --no-serve`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.registry import CHAMPION, TEXT_MODEL_NAME

HOST = "127.0.0.1"
SWAP_WINDOW_SECONDS = 0.25
SAMPLE_REPORTS = (
    "楼道里堆满杂物，消防通道被堵死了，物业也不管",
    "楼上邻居天天半夜吵架，摔东西的声音很大",
    "小区门口有人占道摆摊卖水果，行人只能走机动车道",
    "3号楼电动车在楼道里充电，线拉得乱七八糟，很危险",
    "我家老人行动不便，想咨询一下社区有没有上门助餐服务",
    "路口的井盖松动了，晚上有电动车差点摔倒",
    "饭店油烟直接排到居民楼，窗户都不敢开",
    "公司拖欠三个月工资不发，老板电话也打不通",
)


@dataclass
class Sample:
    started: float  # seconds since the scenario began
    latency: float  # seconds
    status: int  # 0: connection error
    version: str


@dataclass
class ScenarioResult:
    scenario: str
    workers: int
    inference: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    versions: dict[str, int]
    swap: dict[str, float | str] = field(default_factory=dict)
    http: str = field(default_factory=lambda: http_stack())
    server_cpu_ms_per_request: float = float("nan")  # the server's processes' CPU during the scenario

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


# ---- the load generator --------------------------------------------------------------------------------
RequestMaker = Callable[[random.Random], bytes]


def http_request(method: str, path: str, key: str, body: bytes | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"X-API-Key: {key}"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, str]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers.get("x-model-version", "")


async def _connection(
    port: int,
    make: RequestMaker,
    seed: int,
    began: float,
    deadline: float,
    budget: list[int],
    samples: list[Sample],
) -> None:
    rng = random.Random(seed)
    reader = writer = None
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        request = make(rng)
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(request)
            status, version = await asyncio.wait_for(_read_response(reader), timeout=30)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, version = 0, ""
            if writer is not None:
                writer.close()
            reader = writer = None
        samples.append(Sample(started - began, time.perf_counter() - started, status, version))
    if writer is not None:
        writer.close()


async def drive(
    port: int,
    make: RequestMaker,
    concurrency: int,
    seconds: float,
    max_requests: int,
    at: tuple[float, Callable[[], None]] | None = None,
) -> tuple[list[Sample], float]:
    """`concurrency` connections send requests back to back until `seconds` pass or `max_requests` are
    sent. `at=(t, action)` runs `action` in a thread `t` seconds in (the alias swap)."""
    samples: list[Sample] = []
    began = time.perf_counter()
    deadline, budget = began + seconds, [max_requests]
    tasks = [_connection(port, make, seed, began, deadline, budget, samples) for seed in range(concurrency)]
    if at is not None:
        tasks.append(_later(*at))
    with _no_cyclic_gc():
        await asyncio.gather(*tasks)
    return samples, time.perf_counter() - began


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The client keeps every sample: tens of thousands of objects, which the cyclic collector walks now
    and then, stalling the client for up to ~0.2 s and making the server look slow. The samples hold no
    cycles, so reference counting frees what needs freeing; the collector is off for the run."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def _later(delay: float, action: Callable[[], None]) -> None:
    await asyncio.sleep(delay)
    await asyncio.to_thread(action)


def summarise(
    name: str, samples: list[Sample], elapsed: float, workers: int, inference: str, concurrency: int
) -> ScenarioResult:
    latencies = np.array([sample.latency for sample in samples]) * 1000
    errors = sum(1 for sample in samples if sample.status == 0 or sample.status >= 400)
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if len(latencies) else (np.nan,) * 3
    return ScenarioResult(
        scenario=name,
        workers=workers,
        inference=inference,
        concurrency=concurrency,
        requests=len(samples),
        errors=errors,
        seconds=round(elapsed, 2),
        throughput=round(len(samples) / elapsed, 1),
        p50_ms=round(float(p50), 2),
        p95_ms=round(float(p95), 2),
        p99_ms=round(float(p99), 2),
        max_ms=round(float(latencies.max()), 2) if len(latencies) else float("nan"),
        statuses=dict(Counter(str(sample.status) for sample in samples)),
        versions=dict(Counter(sample.version for sample in samples)),
    )


def swap_spike(samples: list[Sample], swapped_at: float) -> dict[str, float]:
    """p99 before the swap, and the worst p99 of any 250 ms window after it."""
    before = np.array([s.latency for s in samples if s.started < swapped_at]) * 1000
    after = [s for s in samples if s.started >= swapped_at]
    windows: dict[int, list[float]] = {}
    for sample in after:
        windows.setdefault(int((sample.started - swapped_at) / SWAP_WINDOW_SECONDS), []).append(
            sample.latency * 1000
        )
    p99_by_window = {index: float(np.percentile(values, 99)) for index, values in windows.items()}
    worst_index = max(p99_by_window, key=p99_by_window.__getitem__, default=None)
    worst = p99_by_window[worst_index] if worst_index is not None else float("nan")
    p99_before = float(np.percentile(before, 99)) if len(before) else float("nan")
    return {
        "p99_before_ms": round(p99_before, 2),
        "worst_window_p99_ms": round(worst, 2),
        "spike_ratio": round(worst / p99_before, 2) if p99_before else float("nan"),
        # when it happened: at once is the alias move itself, ~2 s later a worker's reload
        "worst_window_after_swap_s": (
            worst_index * SWAP_WINDOW_SECONDS if worst_index is not None else float("nan")
        ),
        "windows_over_3x": sum(value > 3 * p99_before for value in p99_by_window.values()),
        "windows": len(p99_by_window),
    }


def http_stack() -> str:
    """Which uvicorn HTTP parser and event loop the server uses (httptools/uvloop come with
    `uvicorn[standard]`; without them, h11 and asyncio)."""
    from importlib.util import find_spec

    parser = "httptools" if find_spec("httptools") else "h11"
    loop = "uvloop" if find_spec("uvloop") else "asyncio"
    return f"{parser}+{loop}"


# ---- the server ------------------------------------------------------------------------------------------
class ServerPort(int):
    """The port the server listens on, carrying the server's process id (`pid`)."""

    pid: int

    def __new__(cls, port: int, pid: int) -> ServerPort:
        made = super().__new__(cls, port)
        made.pid = pid
        return made


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants (Linux /proc; NaN
    elsewhere). On a shared machine this is steadier than throughput: it does not count waiting for a core."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        stats[int(entry.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))  # ppid, ticks
    if pid not in stats:
        return float("nan")
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, (ppid, _) in stats.items() if ppid == parent and child not in tree]
        tree.update(children)
        frontier += children
    return sum(stats[member][1] for member in tree) / ticks


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(
    workers: int,
    inference: str,
    key: str,
    extra_env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[ServerPort]:
    """uvicorn on 127.0.0.1 with `workers` processes; yields the port (a ServerPort: with the server's pid)
    once /readyz answers 200."""
    from core.home import project_root
    from core.settings import tracking_uri

    port = free_port()
    env = {
        **os.environ,
        "GRIDSENSE_HOME": str(project_root()),
        "GRIDSENSE_MLFLOW_TRACKING_URI": tracking_uri(project_root()),
        "GRIDSENSE_INFERENCE": inference,
        "GRIDSENSE_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="gridsense-bench-metrics-"),
        # one key drives all the load: per-key rate limits would answer 429 (tested in tests/serving)
        **{f"GRIDSENSE_RATE_LIMIT_{role.upper()}": "" for role in ("intake", "supervisor", "data_scientist")},
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "serving.server",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    log = open(log_path or os.devnull, "ab")  # noqa: SIM115 - closed below
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, key, server, timeout=180)
        yield ServerPort(port, server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_ready(port: int, key: str, server: subprocess.Popen, timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    request = urllib.request.Request(f"http://{HOST}:{port}/readyz", headers={"X-API-Key": key})
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the server was not ready within {timeout:.0f}s")


# ---- scenarios -------------------------------------------------------------------------------------------
def sample_reports(limit: int = 2000) -> list[str]:
    """Test-split reports of the demo text set when there is one (realistic lengths), else built-ins."""
    from core.home import DemoPaths

    path = DemoPaths.under().text_dataset
    if path.is_file():
        import polars as pl

        texts = pl.read_parquet(path, columns=["text", "split"]).filter(pl.col("split") == "test")
        if texts.height:
            return texts.get_column("text").head(limit).to_list()
    return list(SAMPLE_REPORTS)


def forecast_grids() -> list[str]:
    import polars as pl

    from core.settings import Settings

    return (
        pl.read_parquet(Settings().forecasts_path, columns=["grid_id"])
        .get_column("grid_id")
        .unique()
        .to_list()
    )


def classify_single(reports: list[str], key: str) -> RequestMaker:
    bodies = [json.dumps({"text": text}, ensure_ascii=False).encode() for text in reports]
    return lambda rng: http_request("POST", "/v1/classify", key, rng.choice(bodies))


def classify_batch(reports: list[str], key: str, size: int = 32) -> RequestMaker:
    def make(rng: random.Random) -> bytes:
        items = [{"id": str(i), "text": rng.choice(reports)} for i in range(size)]
        return http_request(
            "POST", "/v1/classify", key, json.dumps({"items": items}, ensure_ascii=False).encode()
        )

    return make


def risk_read(grids: list[str], key: str) -> RequestMaker:
    return lambda rng: http_request("GET", f"/v1/risk?grid_id={rng.choice(grids)}", key)


def intake_single(reports: list[str], grids: list[str], key: str) -> RequestMaker:
    def make(rng: random.Random) -> bytes:
        body = {"text": rng.choice(reports), "grid_id": rng.choice(grids)}
        return http_request("POST", "/v1/intake", key, json.dumps(body, ensure_ascii=False).encode())

    return make


def intake_no_search(reports: list[str], key: str) -> RequestMaker:
    return intake_single(reports, [NO_SUCH_GRID], key)


def intake_batch(reports: list[str], grids: list[str], key: str, size: int = 32) -> RequestMaker:
    def make(rng: random.Random) -> bytes:
        items = [{"text": rng.choice(reports), "grid_id": rng.choice(grids)} for _ in range(size)]
        return http_request(
            "POST", "/v1/intake", key, json.dumps({"items": items}, ensure_ascii=False).encode()
        )

    return make


INTAKE_SCENARIOS = ("intake_single", "intake_batch32", "intake_no_search")
NO_SUCH_GRID = "no-such-grid"  # a grid id no site has: intake skips the duplicate search
REPORTS_PER_REQUEST = {"classify_batch32": 32, "intake_batch32": 32}
STORE_DAYS = 30  # the store's default retention window
STORE_TEMPLATES = 20_000  # distinct log reports the pre-filled store draws from


def prefill_report_store(path: Path, reports: int, seed: int = 13) -> dict[str, float | int | str]:
    """A fresh report store for the intake scenarios, filled as a busy city's would be: `reports` reports
    of the last 30 days, drawn from the site's event log (up to 20,000 of its reports, each kept with its
    title, text and grid; `sample_reports`' built-ins over the forecast grids when there is no log),
    at random times, prepared and stored as intake stores them (redacted, places, MinHash)."""
    from datetime import UTC, datetime

    from core.home import DemoPaths
    from core.report_store import SpoolingReportStore
    from evaluation.intake_speed import fill_store_with

    rng = random.Random(seed)
    grids = forecast_grids()
    events = DemoPaths.under().events
    if events.is_file():
        import polars as pl

        log = pl.read_parquet(events, columns=["title", "text", "grid_id"]).filter(
            pl.col("text").is_not_null() & pl.col("grid_id").is_in(grids)
        )
        log = log.sample(min(STORE_TEMPLATES, log.height), seed=seed) if log.height else log
        texts = list(log.iter_rows())
        source = f"{events} ({len(texts):,} of its reports as templates)"
    else:
        texts, source = [], ""
    if not texts:
        texts, source = [(None, text, None) for text in SAMPLE_REPORTS], "built-in reports"
    path.parent.mkdir(parents=True, exist_ok=True)
    store = SpoolingReportStore.sqlite(path, retention_days=None)
    try:
        seconds = fill_store_with(store, texts, grids, reports, STORE_DAYS, datetime.now(UTC), rng)
        stored = store.count()
    finally:
        store.inner.close()  # type: ignore[attr-defined]
    return {"reports": stored, "days": STORE_DAYS, "source": source, "fill_seconds": round(seconds, 1)}


@contextmanager
def alias_swap_target(
    model_name: str = TEXT_MODEL_NAME, alias: str = CHAMPION
) -> Iterator[tuple[str, Callable[[], None]]]:
    """A second version with the champion's artifacts, and an action that points the alias at it.
    Afterwards the alias goes back and the copy is deleted (unless someone else moved the alias)."""
    import mlflow
    from mlflow import MlflowClient

    from core.home import project_root
    from core.settings import tracking_uri

    uri = tracking_uri(project_root())
    mlflow.set_tracking_uri(uri)  # MLflow 3 resolves a `models:/m-...` source through the global store
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    champion = client.get_model_version_by_alias(model_name, alias)
    copy = client.create_model_version(
        model_name,
        champion.source,
        champion.run_id,
        tags={"benchmark": "alias-swap copy"},
        description="temporary copy for `gridsense benchmark serve`",
    )
    try:
        yield copy.version, lambda: client.set_registered_model_alias(model_name, alias, copy.version)
    finally:
        current = client.get_model_version_by_alias(model_name, alias).version
        if str(current) == str(copy.version):  # put it back, unless someone else moved it meanwhile
            client.set_registered_model_alias(model_name, alias, champion.version)
            client.delete_model_version(model_name, copy.version)


def run_benchmark(
    workers: int = 2,
    inference: str = "microbatch",
    concurrency: int = 16,
    seconds: float = 15,
    max_requests: int = 50_000,
    scenarios: tuple[str, ...] = ("classify_single", "classify_batch32", "risk_read", "alias_swap"),
    swap_seconds: float = 40,
    log_path: Path | None = None,
    store_reports: int = 100_000,
    store_info: dict | None = None,
) -> list[ScenarioResult]:
    """The load scenarios against one server. With an intake scenario, the server's report store is a
    fresh one in a temporary directory, pre-filled with `store_reports` reports (`prefill_report_store`;
    what it holds goes into `store_info`)."""
    from core.key_admin import KeyManager
    from core.keys import Role

    keys = KeyManager(actor="benchmark")
    issued = {role: keys.create(role, label="benchmark") for role in Role}
    key = {role: created.key for role, created in issued.items()}
    reports = sample_reports()
    results = []
    workdir = tempfile.TemporaryDirectory(prefix="gridsense-bench-store-")
    try:
        extra_env = {"GRIDSENSE_RELOAD_INTERVAL_SECONDS": "2"} if "alias_swap" in scenarios else {}
        if set(INTAKE_SCENARIOS) & set(scenarios):
            store_path = Path(workdir.name) / "reports.sqlite"
            filled = prefill_report_store(store_path, store_reports)
            if store_info is not None:
                store_info.update(filled)
            extra_env["GRIDSENSE_REPORT_STORE_PATH"] = str(store_path)
        with running_server(workers, inference, key[Role.DATA_SCIENTIST], extra_env, log_path) as port:
            makers: dict[str, RequestMaker] = {
                "classify_single": classify_single(reports, key[Role.INTAKE]),
                "classify_batch32": classify_batch(reports, key[Role.INTAKE]),
            }
            if "risk_read" in scenarios:
                makers["risk_read"] = risk_read(forecast_grids(), key[Role.SUPERVISOR])
            if set(INTAKE_SCENARIOS) & set(scenarios):
                grids = forecast_grids()
                makers["intake_single"] = intake_single(reports, grids, key[Role.INTAKE])
                makers["intake_batch32"] = intake_batch(reports, grids, key[Role.INTAKE])
                makers["intake_no_search"] = intake_no_search(reports, key[Role.INTAKE])
            for name in scenarios:
                if name == "alias_swap":
                    results.append(
                        _swap_run(
                            port,
                            makers["classify_single"],
                            workers,
                            inference,
                            concurrency,
                            swap_seconds,
                            max_requests,
                        )
                    )
                    continue
                asyncio.run(drive(port, makers[name], concurrency, min(2.0, seconds), 2000))  # warm-up
                cpu = process_tree_cpu_seconds(port.pid)
                samples, elapsed = asyncio.run(drive(port, makers[name], concurrency, seconds, max_requests))
                cpu = process_tree_cpu_seconds(port.pid) - cpu
                result = summarise(name, samples, elapsed, workers, inference, concurrency)
                if samples:
                    result.server_cpu_ms_per_request = round(1000 * cpu / len(samples), 3)
                results.append(result)
    finally:
        for created in issued.values():
            keys.revoke(created.record.key_id)
        workdir.cleanup()
    return results


def throughput_ratios(results: list[ScenarioResult]) -> list[dict[str, float | str]]:
    """Per worker count and inference mode: each classify/intake scenario's requests/s against risk_read's
    in the same run (the issue-13 target: intake_single >= 0.5 x risk_read), and reports/s."""
    ratios = []
    for r in results:
        base = next(
            (
                b
                for b in results
                if b.scenario == "risk_read" and (b.workers, b.inference) == (r.workers, r.inference)
            ),
            None,
        )
        if base is None or r.scenario == "risk_read" or not base.throughput:
            continue
        ratios.append(
            {
                "scenario": r.scenario,
                "workers": r.workers,
                "inference": r.inference,
                "requests_per_s": r.throughput,
                "reports_per_s": round(r.throughput * REPORTS_PER_REQUEST.get(r.scenario, 1), 1),
                "risk_read_per_s": base.throughput,
                "ratio_to_risk_read": round(r.throughput / base.throughput, 2),
                # the same comparison in the server's CPU per request (risk_read's / this one's): on a busy
                # machine throughput also counts waiting for a core
                "cpu_ratio_to_risk_read": round(
                    base.server_cpu_ms_per_request / r.server_cpu_ms_per_request, 2
                )
                if r.server_cpu_ms_per_request > 0
                else float("nan"),
            }
        )
    return ratios


def ratio_lines(ratios: list[dict[str, float | str]]) -> str:
    return "\n".join(
        f"{r['scenario']} / risk_read ({r['workers']} worker(s), {r['inference']}): "
        f"{r['requests_per_s']:.0f} / {r['risk_read_per_s']:.0f} req/s = {r['ratio_to_risk_read']:.2f}x"
        + (f" ({r['reports_per_s']:.0f} reports/s)" if r["reports_per_s"] != r["requests_per_s"] else "")
        + f"; in server CPU per request {r['cpu_ratio_to_risk_read']:.2f}x"
        for r in ratios
    )


ISOLATION_SCENARIOS = ("poisoned_batch", "worst_case", "worst_case_unbounded")
SCENARIOS = ("classify_single", "classify_batch32", "risk_read", *INTAKE_SCENARIOS, "alias_swap")
SCENARIOS += ISOLATION_SCENARIOS


def run_isolation(
    workers: int,
    inference: str,
    concurrency: int,
    seconds: float,
    scenarios: tuple[str, ...],
    log_path: Path | None = None,
) -> tuple[list[str], dict[str, object]]:
    """The experiments of serve_isolation: markdown tables and the raw figures."""
    from core.key_admin import KeyManager
    from core.keys import Role
    from evaluation import load_isolation as iso

    keys = KeyManager(actor="benchmark")
    created = keys.create(Role.INTAKE, label="benchmark")
    key, reports = created.key, sample_reports()
    single = classify_single(reports, key)
    tables: list[str] = []
    figures: dict[str, object] = {}
    label = f"{workers} worker(s), {inference}"
    try:
        if {"poisoned_batch", "worst_case"} & set(scenarios):
            with running_server(workers, inference, key, None, log_path) as port:
                if "poisoned_batch" in scenarios:
                    result = asyncio.run(iso.poisoned_batch(port, single, key))
                    tables.append(f"{label}\n{iso.poisoned_table(result)}")
                    figures["poisoned_batch"] = result.as_dict()
                if "worst_case" in scenarios:
                    heavy = iso.worst_case_requests(reports, key)
                    phases = iso.worst_case(port, single, heavy, concurrency, seconds)
                    tables.append(
                        iso.phases_table(f"worst_case ({label}, {concurrency} connections)", phases)
                    )
                    figures["worst_case"] = [asdict(p) for p in phases]
        if "worst_case_unbounded" in scenarios:
            with running_server(workers, inference, key, iso.UNBOUNDED_ENV, log_path) as port:
                heavy = {
                    "256 x 5000 chars, evidence": iso.heavy_batch(reports, key, 256, 5000, evidence=True)
                }
                phases = iso.worst_case(port, single, heavy, concurrency, seconds)
                title = f"worst_case_unbounded ({label}, {concurrency} connections, no budget, no slicing)"
                tables.append(iso.phases_table(title, phases))
                figures["worst_case_unbounded"] = [asdict(p) for p in phases]
    finally:
        keys.revoke(created.record.key_id)
    return tables, figures


def _swap_run(
    port: int,
    make: RequestMaker,
    workers: int,
    inference: str,
    concurrency: int,
    seconds: float,
    max_requests: int,
) -> ScenarioResult:
    """Load for `seconds`, swapping the alias after a quarter of it: every worker polls every 2 s and then
    downloads, prepares and smoke-tests the new version, so the rest of the run covers the whole swap."""
    asyncio.run(drive(port, make, concurrency, 2.0, 2000))  # warm-up
    swap_at = seconds / 4
    with alias_swap_target() as (_, swap):
        samples, elapsed = asyncio.run(
            drive(port, make, concurrency, seconds, max_requests, at=(swap_at, swap))
        )
    result = summarise("alias_swap", samples, elapsed, workers, inference, concurrency)
    result.swap = {"swapped_at_s": swap_at, **swap_spike(samples, swap_at)}
    return result


# ---- output ----------------------------------------------------------------------------------------------
def markdown_table(results: list[ScenarioResult]) -> str:
    header = (
        "| scenario | workers | inference | conc. | requests | req/s | p50 ms | p95 ms | p99 ms | max ms "
        "| errors | versions | swap: worst 250 ms-window p99 / p99 before | http | server CPU ms/req |"
    )
    lines = [header, "|" + "---|" * 15]
    for r in results:
        swap = (
            f"{r.swap['worst_window_p99_ms']} / {r.swap['p99_before_ms']} ms (x{r.swap['spike_ratio']})"
            if r.swap
            else ""
        )
        versions = ", ".join(f"v{v}: {n}" for v, n in sorted(r.versions.items()) if v)
        lines.append(
            f"| {r.scenario} | {r.workers} | {r.inference} | {r.concurrency} | {r.requests} | "
            f"{r.throughput:.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} | {r.max_ms:.1f} | "
            f"{r.errors} ({r.error_rate:.2%}) | {versions} | {swap} | {r.http} | "
            f"{r.server_cpu_ms_per_request:.2f} |"
        )
    return "\n".join(lines)
