"""The in-memory window of duplicate search answers as the store's queries do: the same candidates in the
same order, so the same shortlists, matches and scores, while other writers add and replace reports."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.report_store import SpoolingReportStore, SqliteReportStore, redacted
from evaluation.intake_speed import fill_store_with, grid_table, synthetic_report
from models.duplicate_search import DuplicateSearch, Incoming
from models.duplicates import DuplicateParams, minhash, prepare
from models.grid_neighbours import GridNeighbours

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
GRIDS = 16


def stored(id_: str, at: datetime, grid: str | None, title: str, text: str):
    prepared = prepare(title, text)
    return redacted(
        id_,
        at,
        text,
        title=title,
        grid_id=grid,
        places=prepared.primary_places,
        features=minhash(prepared).tobytes(),
    )


def summary(outcomes):
    return [
        (o.decision, o.skipped, o.searched, [(m.id, m.score, m.decision) for m in o.matches])
        for o in outcomes
    ]


@pytest.fixture
def stores(tmp_path):
    """Two copies of one store, each searched by its own DuplicateSearch: in memory and store-only."""
    rng = random.Random(3)
    texts = [(*synthetic_report(rng), None) for _ in range(300)]
    grids = [f"G{i:05d}" for i in range(GRIDS)]
    made = []
    for name in ("memory", "store"):
        store = SpoolingReportStore.sqlite(tmp_path / name / "r.sqlite", retention_days=None)
        (tmp_path / name).mkdir(exist_ok=True)
        fill_store_with(store, texts, grids, 3000, 10, NOW, random.Random(5))
        made.append(store)
    return made


def test_the_window_finds_the_same_matches_as_the_store(stores):
    neighbours = GridNeighbours.from_table(grid_table(GRIDS))
    params = DuplicateParams.load()
    memory = DuplicateSearch(stores[0], params, neighbours, shortlist=5, in_memory=True)
    plain = DuplicateSearch(stores[1], params, neighbours, shortlist=5, in_memory=False)
    assert memory.recent is not None and plain.recent is None
    rng = random.Random(9)
    grids = [f"G{i:05d}" for i in range(GRIDS)] + [None]
    compared = matched = 0
    for step in range(60):
        batch = []
        for position in range(rng.choice([1, 1, 4])):
            title, text = synthetic_report(rng)
            at = NOW + timedelta(minutes=step, seconds=position)
            if step == 30:
                at -= timedelta(days=9)  # a late report: older than the window's start, asked of the store
            batch.append(Incoming(f"Q{step}-{position}", title, text, at, rng.choice(grids)))
        if step % 7 == 3:  # another writer adds and rewrites reports meanwhile (both stores alike)
            title, text = synthetic_report(rng)
            for store in stores:
                store.add([stored("S00000010", NOW, "G00001", title, text)])
                store.add([stored(f"W{step}", NOW, "G00002", title, text)])
        first, second = memory.process(batch), plain.process(batch)
        assert summary(first) == summary(second)
        compared += len(first)
        matched += sum(bool(o.matches) for o in first)
    assert compared > 80 and matched > 20  # the comparison covered real matches
    assert len(memory.recent) > 1000


def test_the_window_candidates_are_the_store_s_in_its_order(stores):
    search = DuplicateSearch(stores[0], DuplicateParams.load(), in_memory=True)
    grids = ["G00003", "G00001", "G00010", "G00002"]
    search._sync([NOW])
    since, until = NOW - timedelta(days=7), NOW + timedelta(seconds=1)
    for limit in (20_000, 500):
        search.max_candidates = limit
        window = search.recent.candidates(since, until, grids, limit)
        store = stores[0].candidate_features(since, until, grids, (), limit)
        assert window.ids == store.ids and window.places == store.places
        assert window.grid_ids == store.grid_ids and window.leaf_ids == store.leaf_ids
    assert search.recent.candidates(NOW - timedelta(days=30), until, grids, 100) is None


def test_a_rewritten_report_is_searched_in_its_new_version(tmp_path):
    store = SqliteReportStore(tmp_path / "r.sqlite")
    neighbours = GridNeighbours.from_table(grid_table(4))
    search = DuplicateSearch(store, DuplicateParams.load(), neighbours)
    first = stored(
        "a",
        NOW - timedelta(hours=2),
        "G00000",
        "阳光花园小区井盖松动",
        "阳光花园小区门口井盖松动翘起，晚上有人差点绊倒",
    )
    store.add([first])
    probe = Incoming("q1", "阳光花园小区井盖松动", "阳光花园小区门口井盖松动翘起，很危险", NOW, "G00000")
    [outcome] = search.process([probe])
    assert [m.id for m in outcome.matches] == ["a"] and outcome.matches[0].decision == "duplicate"
    store.add(
        [replace(first, text="翠湖家园广场舞音响太吵", title="翠湖家园广场舞", features=b"")]
    )  # rewritten
    [outcome] = search.process([replace(probe, id="q2")])
    assert "a" not in [m.id for m in outcome.matches]


def test_threads_of_one_worker_search_and_store_at_once(stores):
    """The API runs intake calls in a thread pool: one search object, many threads."""
    from concurrent.futures import ThreadPoolExecutor

    neighbours = GridNeighbours.from_table(grid_table(GRIDS))
    search = DuplicateSearch(stores[0], DuplicateParams.load(), neighbours)
    rng = random.Random(4)
    batches = [
        [
            Incoming(
                f"T{b}-{i}",
                *synthetic_report(rng),
                NOW + timedelta(seconds=b),
                f"G{rng.randrange(GRIDS):05d}",
            )
            for i in range(rng.choice([1, 8]))
        ]
        for b in range(40)
    ]
    with ThreadPoolExecutor(4) as pool:
        outcomes = [o for batch in pool.map(search.process, batches) for o in batch]
    assert len(outcomes) == sum(map(len, batches)) and all(o.stored == "stored" for o in outcomes)
    search._sync([NOW])  # the window reads the last writes at the next batch
    start = datetime.fromtimestamp(search.recent.start, UTC)
    everyone = [f"G{i:05d}" for i in range(GRIDS)]
    in_store = stores[0].candidate_features(start, NOW + timedelta(days=1), everyone, (), 10**6)
    assert len(search.recent) == len(in_store) > 2000  # every stored report of the window, once
