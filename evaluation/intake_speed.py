"""How fast duplicate search and storage are with a full store: `gridsense benchmark intake`.

Fills a fresh SQLite report store with `reports` synthetic reports (named estates, streets and problems
over `grids` grids and `days` days; the texts come from a pool of `pool` distinct reports, so many stored
reports resemble each other as repeats do), then measures on the newest day:

- the search alone for single reports (what intake adds to a classify call), p50/p95/p99 ms of wall
  time and of this thread's CPU time (the machine's load average is reported: on a shared machine the
  wall time includes waiting for a core);
- search + store of single reports, p50/p99 ms;
- search + store in batches of `batch`, reports/s;
- the process's peak memory and the store's size on disk.

Classification is not included: `gridsense benchmark serve` measures it.
"""

from __future__ import annotations

import os
import random
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from core.report_store import SpoolingReportStore, redacted
from models.duplicate_search import DuplicateSearch, Incoming
from models.duplicates import DuplicateParams, minhash, prepare, stored_payload
from models.grid_neighbours import GridNeighbours

ESTATE_HEADS = (
    "阳光 金色 翠湖 锦绣 幸福 和平 东方 滨江 碧水 春天 丽景 紫薇 华府 星河 绿地 万象 青山 明珠 新城 枫林"
).split()
ESTATE_TAILS = "花园 小区 家园 新村 公寓 苑 名邸 雅居 华庭 佳园".split()
STREETS = "人民路 建设路 解放路 中山路 和平街 文化路 胜利路 新华路 长江路 黄河路 迎宾大道 滨河路".split()
PROBLEMS = [
    "楼上深夜装修噪音扰民，电钻声很大",
    "楼道堆满杂物，消防通道被堵死",
    "小区门口占道经营，流动摊贩很多",
    "井盖松动翘起，晚上有人差点绊倒",
    "餐馆油烟直排，楼上住户开不了窗",
    "垃圾三天没人清运，臭气熏天",
    "地下车库漏水严重，墙面开裂",
    "广场舞音响太吵，影响老人休息",
    "电动车在楼道充电，存在火灾隐患",
    "路灯坏了一个月，晚上一片漆黑",
    "物业乱收停车费，业主多次投诉无果",
    "二次供水水质差，水龙头出黄水",
]
DETAILS = [
    "多次反映没有解决，请尽快处理。",
    "希望相关部门管一管。",
    "已经持续一周了，居民意见很大。",
    "老人小孩出行很不安全。",
    "拨打过12345，至今没有回复。",
    "请社区协调处理，谢谢。",
]


def synthetic_report(rng: random.Random) -> tuple[str, str]:
    estate = rng.choice(ESTATE_HEADS) + rng.choice(ESTATE_HEADS) + rng.choice(ESTATE_TAILS)
    problem = rng.choice(PROBLEMS)
    title = f"{estate}{problem.split('，')[0]}"
    text = (
        f"{rng.choice(STREETS)}{estate}{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元，{problem}，"
        f"{rng.choice(DETAILS)}{rng.choice(DETAILS)}"
    )
    return title, text


def grid_table(grids: int) -> pl.DataFrame:
    side = int(np.ceil(np.sqrt(grids)))
    ids = [f"G{i:05d}" for i in range(grids)]
    return pl.DataFrame(
        {
            "grid_id": ids,
            "x_m": [500.0 * (i % side) for i in range(grids)],
            "y_m": [500.0 * (i // side) for i in range(grids)],
        }
    )


def fill_store(
    store: SpoolingReportStore, reports: int, grids: int, days: int, pool: int, now: datetime, seed: int = 7
) -> float:
    """Write `reports` synthetic reports in batches of 10,000; returns the seconds it took."""
    rng = random.Random(seed)
    texts = [synthetic_report(rng) for _ in range(pool)]
    grid_ids = [f"G{i:05d}" for i in range(grids)]
    return fill_store_with(
        store, [(title, text, None) for title, text in texts], grid_ids, reports, days, now, rng
    )


def fill_store_with(
    store: SpoolingReportStore,
    texts: list[tuple[str | None, str, str | None]],
    grid_ids: list[str],
    reports: int,
    days: float,
    now: datetime,
    rng: random.Random,
) -> float:
    """Write `reports` reports drawn from `texts` ((title, text, grid or None) templates, each prepared
    once as intake prepares a report: places and MinHash signature) at random times in the `days` before
    `now`, in their own grid or, without one, a random one of `grid_ids`; batches of 10,000. Returns the
    seconds the writes took."""
    prepared = [prepare(title, text) for title, text, _ in texts]
    stored = [
        redacted("", now, text, title=title, places=p.primary_places, features=minhash(p).tobytes())
        for (title, text, _), p in zip(texts, prepared, strict=True)
    ]
    templates = [
        (replace(report, prepared=stored_payload(p, report.title, report.text)), grid)
        for report, p, (_, _, grid) in zip(stored, prepared, texts, strict=True)
    ]
    started = time.perf_counter()
    span = days * 86_400
    for start in range(0, reports, 10_000):
        batch = []
        for index in range(start, min(start + 10_000, reports)):
            template, grid = templates[rng.randrange(len(templates))]
            batch.append(
                replace(
                    template,
                    id=f"S{index:08d}",
                    reported_at=now - timedelta(seconds=rng.uniform(0, span)),
                    grid_id=grid or rng.choice(grid_ids),
                )
            )
        store.inner.add(batch)
    return time.perf_counter() - started


def _percentiles(values: list[float]) -> dict[str, float]:
    array = np.array(values) * 1000
    return {f"p{q}": round(float(np.percentile(array, q)), 2) for q in (50, 95, 99)} | {
        "mean": round(float(array.mean()), 2)
    }


def _rss_mb() -> float:
    """This process's resident memory now (Linux), MB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def measure(
    search: DuplicateSearch,
    incoming: Callable[[int], Incoming],
    queries: int,
    batch: int,
    batches: int,
) -> dict[str, Any]:
    """Single searches, single search + store calls and batches with one DuplicateSearch."""
    rss_before = _rss_mb()
    started, cpu = time.perf_counter(), time.thread_time()
    search._sync([incoming(0).reported_at])  # the first look (the in-memory window is read here)
    first_look = (time.perf_counter() - started, time.thread_time() - cpu)
    candidates, search_times, search_cpu = [], [], []
    for index in range(queries):
        probe = search._probe(incoming(index))
        started, cpu = time.perf_counter(), time.thread_time()
        search._sync([probe.item.reported_at])
        outcome = search._search(probe, [])
        search_times.append(time.perf_counter() - started)
        search_cpu.append(time.thread_time() - cpu)
        candidates.append(outcome.searched)
    single_times, single_cpu = [], []
    for index in range(queries, queries + 200):
        item = incoming(index)
        started, cpu = time.perf_counter(), time.thread_time()
        search.process([item])
        single_times.append(time.perf_counter() - started)
        single_cpu.append(time.thread_time() - cpu)
    started, cpu = time.perf_counter(), time.thread_time()
    for number in range(batches):
        search.process([incoming(10_000_000 + number * batch + i) for i in range(batch)])
    batch_seconds, batch_cpu = time.perf_counter() - started, time.thread_time() - cpu
    return {
        "in_memory": search.recent is not None,
        "first_look_s": round(first_look[0], 2),
        "first_look_cpu_s": round(first_look[1], 2),
        "window_reports": len(search.recent) if search.recent is not None else 0,
        "rss_growth_mb": round(_rss_mb() - rss_before, 1),
        "candidates_per_search": {
            "mean": round(float(np.mean(candidates)), 1),
            "max": int(np.max(candidates)),
        },
        "search_ms": _percentiles(search_times),
        "search_cpu_ms": _percentiles(search_cpu),
        "search_and_store_single_ms": _percentiles(single_times),
        "search_and_store_single_cpu_ms": _percentiles(single_cpu),
        "batch_size": batch,
        "search_and_store_batch_reports_per_s": round(batches * batch / batch_seconds, 1),
        "search_and_store_batch_reports_per_cpu_s": round(batches * batch / batch_cpu, 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def run(
    reports: int = 1_000_000,
    grids: int = 360,
    days: int = 30,
    pool: int = 20_000,
    queries: int = 1000,
    batch: int = 64,
    batches: int = 30,
    directory: Path | None = None,
    seed: int = 11,
    modes: tuple[str, ...] = ("store", "memory"),
) -> dict[str, Any]:
    """Fill a store, then measure each mode on it in turn: `store` asks the store for every search's
    candidates (no in-memory window), `memory` keeps the window in memory (the default in the API).
    Each mode draws its own queries (seed + its position), on the newest day."""
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    workdir = Path(directory or tempfile.mkdtemp(prefix="gridsense-intake-speed-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "reports.sqlite"
    store = SpoolingReportStore.sqlite(path, retention_days=None)
    fill_seconds = fill_store(store, reports, grids, days, pool, now - timedelta(days=1))
    neighbours = GridNeighbours.from_table(grid_table(grids))
    grid_ids = [f"G{i:05d}" for i in range(grids)]
    result: dict[str, Any] = {
        "stored_reports": store.count(),
        "grids": grids,
        "days": days,
        "fill_seconds": round(fill_seconds, 1),
        "rss_after_fill_mb": _rss_mb(),
    }
    for position, mode in enumerate(modes):
        rng = random.Random(seed + position)

        def incoming(index: int, rng: random.Random = rng, prefix: str = mode[0].upper()) -> Incoming:
            title, text = synthetic_report(rng)
            at = now + timedelta(seconds=index % 10_000_000)
            return Incoming(f"{prefix}{index:08d}", title, text, at, rng.choice(grid_ids))

        search = DuplicateSearch(store, DuplicateParams.load(), neighbours, in_memory=mode == "memory")
        result[mode] = measure(search, incoming, queries, batch, batches)
    result |= {
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "store_mb": round(sum(p.stat().st_size for p in workdir.glob("reports.sqlite*")) / 2**20, 1),
        "store_path": str(path),
    }
    return result
