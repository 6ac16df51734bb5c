"""The recent-report store: redaction before storage, candidate queries, retention, concurrent writers,
and the spool that keeps reports while the store is missing or locked."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.report_store import SpoolingReportStore, SqliteReportStore, redacted

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def report(i: int, grid: str | None = "G1", days_ago: float = 0, places=(), text="楼道堆满杂物"):
    return redacted(f"r{i}", NOW - timedelta(days=days_ago), text, grid_id=grid, places=places)


def test_texts_are_redacted_before_they_are_stored(tmp_path):
    store = SqliteReportStore(tmp_path / "r.sqlite")
    store.add(
        [
            redacted(
                "a",
                NOW,
                "我叫张三，电话13812345678，门口漏水",
                title="王先生反映",
                place="身份证110101199003071234",
            )
        ]
    )
    raw = (tmp_path / "r.sqlite").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name.endswith("-wal")
    )
    assert b"13812345678" not in raw
    [stored] = store.get(["a"])
    assert "<PHONE>" in stored.text and "13812345678" not in stored.text
    assert stored.title == "<NAME>先生反映"
    assert "1101011990" not in (stored.place or "")


def test_candidates_by_grid_and_place_within_the_window(tmp_path):
    store = SqliteReportStore(tmp_path / "r.sqlite")
    store.add(
        [
            report(1, "G1", 1),
            report(2, "G2", 2),
            report(3, "G3", 1),
            report(4, "G1", 9),  # outside a 7-day window
            report(5, None, 1, places=("阳光小区",)),
        ]
    )
    since = NOW - timedelta(days=7)
    assert {r.id for r in store.candidates(since, NOW, grid_ids=["G1", "G2"])} == {"r1", "r2"}
    assert {r.id for r in store.candidates(since, NOW, places=["阳光小区"])} == {"r5"}
    assert {r.id for r in store.candidates(since, NOW, grid_ids=["G3"], places=["阳光小区"])} == {"r3", "r5"}
    assert store.candidates(since, NOW) == []
    assert store.get(["r5"])[0].places == ("阳光小区",)


def test_replacing_a_report_replaces_its_places(tmp_path):
    store = SqliteReportStore(tmp_path / "r.sqlite")
    store.add([report(1, None, places=("甲小区",))])
    store.add([report(1, None, places=("乙小区",))])
    since = NOW - timedelta(days=1)
    assert store.candidates(since, places=["甲小区"]) == []
    assert store.count() == 1


def test_retention_purges_old_reports(tmp_path):
    store = SpoolingReportStore.sqlite(tmp_path / "r.sqlite", retention_days=30)
    store.add([report(1, days_ago=31, places=("甲小区",)), report(2, days_ago=29)])
    assert store.purge_expired(NOW) == 1
    assert [r.id for r in store.get(["r1", "r2"])] == ["r2"]


def test_concurrent_writers_from_two_connections(tmp_path):
    path = tmp_path / "r.sqlite"
    stores = [SqliteReportStore(path, busy_timeout_ms=5000) for _ in range(2)]

    def write(store, offset):
        for i in range(50):
            store.add([report(offset + i)])

    threads = [threading.Thread(target=write, args=(s, k * 1000)) for k, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stores[0].count() == 100
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_missing_store_spools_and_replays_without_losing_reports(tmp_path):
    path = tmp_path / "missing" / "r.sqlite"
    spool = tmp_path / "spool.jsonl"
    store = SpoolingReportStore(SqliteReportStore(path), spool)
    assert store.add([report(1, text="电话13812345678 漏水")]) == 0
    status = store.status()
    assert not status.available and "does not exist" in status.detail and status.spooled == 1
    assert "13812345678" not in spool.read_text(encoding="utf-8")
    path.parent.mkdir()
    assert store.add([report(2)]) == 1
    assert store.status().available and store.status().spooled == 0
    assert [r.id for r in store.get(["r1", "r2"])] == ["r1", "r2"]
    assert not spool.exists()


def test_locked_store_spools(tmp_path):
    path = tmp_path / "r.sqlite"
    SqliteReportStore(path).add([report(0)])
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    store = SpoolingReportStore(SqliteReportStore(path, busy_timeout_ms=10), tmp_path / "spool.jsonl")
    try:
        assert store.add([report(1)]) == 0
        assert store.spooled() == 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.replay() == 1
    assert store.count() == 2


def test_candidate_features_are_the_candidates_as_columns(tmp_path):
    store = SqliteReportStore(tmp_path / "r.sqlite")
    store.add(
        [report(1, "G1", 1, places=("甲小区",)), report(2, "G2", 1), report(3, "G1", 9), report(4, None, 1)]
    )
    since = NOW - timedelta(days=7)
    by_grid = store.candidate_features(since, NOW, grid_ids=["G1", "G2"])
    assert sorted(by_grid.ids) == ["r1", "r2"] and len(by_grid) == 2
    assert by_grid.places[by_grid.ids.index("r1")] == "甲小区"
    assert store.candidate_features(since, NOW, places=["甲小区"]).ids == ["r1"]
    store.add([report(1, "G3", 1)])  # moved to another grid: its old row goes
    assert store.candidate_features(since, NOW, grid_ids=["G1"]).ids == []


def test_a_store_of_an_older_version_gains_the_prepared_column(tmp_path):
    path = tmp_path / "r.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE reports (id TEXT PRIMARY KEY, reported_at REAL NOT NULL, grid_id TEXT, place TEXT, "
        "title TEXT, text TEXT NOT NULL, leaf_id TEXT, places TEXT NOT NULL DEFAULT '', features BLOB);"
        f"INSERT INTO reports VALUES ('old', {NOW.timestamp()}, 'G1', NULL, NULL, '漏水', NULL, '', NULL);"
    )
    old.commit()
    old.close()
    store = SqliteReportStore(path)
    store.add([replace(report(1), prepared=b'{"v":1}')])
    assert {r.id: r.prepared for r in store.get(["old", "r1"])} == {"old": b"", "r1": b'{"v":1}'}


def test_the_spool_keeps_what_the_detector_prepared(tmp_path):
    path = tmp_path / "missing" / "r.sqlite"
    store = SpoolingReportStore(SqliteReportStore(path), tmp_path / "spool.jsonl")
    assert store.add([replace(report(1), features=b"\x00\x01", prepared=b'{"v":1}')]) == 0
    path.parent.mkdir()
    assert store.replay() == 1
    [back] = store.get(["r1"])
    assert (back.features, back.prepared) == (b"\x00\x01", b'{"v":1}')
