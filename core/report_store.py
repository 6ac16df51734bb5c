"""The store of recent reports that intake writes to and duplicate detection reads from.

:class:`ReportStore` is the interface; :class:`SqliteReportStore` the embedded default (one SQLite file in
the GridSense home, `GRIDSENSE_REPORT_STORE_PATH`, no server), which a PostgreSQL deployment can replace
by implementing the same few methods on a table with the same columns (docs/CONTRACTS.md, "Recent-report
store"). Every text is scrubbed and PII-redacted (`core.pii`) *before* it reaches any store, the spool file
included: :func:`redacted` builds the only kind of record a store accepts.

Concurrency: WAL journal, so the API's workers and the batch jobs write and read the same file at once; a
writer that finds the file locked waits `busy_timeout_ms`, then gives up. A store that is missing, locked or
broken never loses a report: :class:`SpoolingReportStore` appends it to a JSON-lines spool beside the store
(0600; beside the store, or in a directory given that exists when the store's does not) and replays the
spool into the store once it answers again; meanwhile `status()` says what is wrong
(served in /readyz) and searches return nothing (intake degrades to classification only).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from core.atomic_files import append_line, locked
from core.pii import redact_pii
from core.scrub import scrub_text

logger = logging.getLogger(__name__)

SPOOL_SUFFIX = ".spool.jsonl"
DEFAULT_BUSY_TIMEOUT_MS = 200
OPEN_ATTEMPTS = 5


@dataclass(frozen=True)
class StoredReport:
    """One report as stored: texts already redacted. `places` are the place keys named in the text (what
    duplicate detection matched on); `features` an opaque blob the detector computed for a first look at many
    candidates, and `prepared` one it reads back to compare a shortlisted report without preparing it again
    (either may be empty)."""

    id: str
    reported_at: datetime  # aware, UTC
    text: str
    title: str | None = None
    grid_id: str | None = None
    place: str | None = None  # the place the reporter named (an address field), redacted
    places: tuple[str, ...] = ()
    leaf_id: str | None = None
    features: bytes = field(default=b"", repr=False)
    prepared: bytes = field(default=b"", repr=False)


def redacted(
    id: str,
    reported_at: datetime,
    text: str,
    *,
    title: str | None = None,
    grid_id: str | None = None,
    place: str | None = None,
    places: Iterable[str] = (),
    leaf_id: str | None = None,
    features: bytes = b"",
    prepared: bytes = b"",
) -> StoredReport:
    """A report ready to store: texts scrubbed and PII-redacted, the time made aware UTC."""

    def clean(value: str | None) -> str | None:
        return None if value is None else redact_pii(scrub_text(value))

    return StoredReport(
        id=id,
        reported_at=as_utc(reported_at),
        text=clean(text) or "",
        title=clean(title),
        grid_id=grid_id,
        place=clean(place),
        places=tuple(dict.fromkeys(clean(p) or "" for p in places if p)),
        leaf_id=leaf_id,
        features=features,
        prepared=prepared,
    )


def as_utc(moment: datetime) -> datetime:
    """Naive times are taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class StoreStatus:
    available: bool
    detail: str = ""
    spooled: int = 0  # reports waiting in the spool for the store to come back


@dataclass(frozen=True)
class CandidateFeatures:
    """Stored reports as columns: ids, their place keys joined by PLACE_SEPARATOR, their feature blobs,
    their leaves and grids."""

    ids: list[str]
    places: list[str]
    features: list[bytes]
    leaf_ids: list[str | None] = field(default_factory=list)
    grid_ids: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


class StoreUnavailableError(RuntimeError):
    """The store cannot be read or written now (missing directory, locked, corrupt)."""


class ReportStore(Protocol):
    """What intake and the batch jobs need from a store of recent reports."""

    def add(self, reports: Sequence[StoredReport]) -> int:
        """Store the reports (already :func:`redacted`); an id already stored is replaced. Returns how
        many were written. Raises StoreUnavailableError when it cannot write."""
        ...

    def candidates(
        self,
        since: datetime,
        until: datetime | None = None,
        grid_ids: Sequence[str] = (),
        places: Sequence[str] = (),
        limit: int = 5000,
        with_text: bool = True,
    ) -> list[StoredReport]:
        """Reports made in [since, until) in one of `grid_ids`, or naming one of `places` (either list
        may be empty), newest first, at most `limit`; without `with_text`, title and text are left empty
        (a first look at many candidates reads only their places and features)."""
        ...

    def candidate_features(
        self,
        since: datetime,
        until: datetime | None = None,
        grid_ids: Sequence[str] = (),
        places: Sequence[str] = (),
        limit: int = 20_000,
    ) -> CandidateFeatures:
        """The same reports as `candidates`, as columns and without texts (the first look at thousands
        of candidates; in no particular order)."""
        ...

    def get(self, ids: Sequence[str]) -> list[StoredReport]: ...

    def purge(self, before: datetime) -> int:
        """Delete reports made before `before` (the retention window); returns how many."""
        ...

    # Optional (duplicate search keeps a window of the store in memory when a store has it):
    # def recent_features(self, after: int, since: datetime) -> RecentRows


@dataclass(frozen=True)
class RecentRows:
    """Reports written since a cursor: `rows` of (id, reported_at as Unix seconds, grid_id,
    places joined by PLACE_SEPARATOR, features, leaf_id) in the order they were written, and the cursor
    to ask from next time (an increasing write sequence: SQLite's rowid; a replaced id comes again with a
    later one). A cursor smaller than the one asked from: rows were deleted, read everything again."""

    rows: list[tuple[str, float, str | None, str, bytes, str | None]]
    cursor: int

    def count(self) -> int: ...

    def status(self) -> StoreStatus: ...


SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    reported_at REAL NOT NULL,
    grid_id TEXT,
    place TEXT,
    title TEXT,
    text TEXT NOT NULL,
    leaf_id TEXT,
    places TEXT NOT NULL DEFAULT '',
    features BLOB,
    prepared BLOB
);
CREATE INDEX IF NOT EXISTS reports_grid_time ON reports (grid_id, reported_at);
CREATE INDEX IF NOT EXISTS reports_time ON reports (reported_at);
CREATE TABLE IF NOT EXISTS report_places (
    place TEXT NOT NULL,
    reported_at REAL NOT NULL,
    report_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS report_places_key ON report_places (place, reported_at);
CREATE INDEX IF NOT EXISTS report_places_report ON report_places (report_id);
CREATE TABLE IF NOT EXISTS report_grid_features (
    grid_id TEXT NOT NULL,
    reported_at REAL NOT NULL,
    id TEXT NOT NULL,
    places TEXT NOT NULL,
    features BLOB,
    leaf_id TEXT,
    PRIMARY KEY (grid_id, reported_at, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS report_grid_features_id ON report_grid_features (id);
"""
COLUMNS = "id, reported_at, grid_id, place, title, text, leaf_id, places, features, prepared"
LIGHT_COLUMNS = "id, reported_at, grid_id, place, NULL, '', leaf_id, places, features, NULL"
PLACE_SEPARATOR = "\x1f"


class SqliteReportStore:
    """The embedded default: one SQLite file in WAL mode. Thread-safe (one connection behind a lock);
    several processes may open the same file."""

    def __init__(self, path: Path, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        if not self.path.parent.is_dir():
            raise StoreUnavailableError(f"report store directory {self.path.parent} does not exist")
        for attempt in range(OPEN_ATTEMPTS):
            try:
                conn = self._open()
                break
            except sqlite3.OperationalError as exc:
                # two processes creating the file at once: switching to WAL and the schema need a lock
                # the busy timeout does not always wait for; try again shortly
                if "locked" not in str(exc) or attempt == OPEN_ATTEMPTS - 1:
                    raise StoreUnavailableError(f"report store {self.path}: {exc}") from exc
                time.sleep(0.05 * (attempt + 1))
            except sqlite3.Error as exc:
                raise StoreUnavailableError(f"report store {self.path}: {exc}") from exc
        self.path.chmod(0o600)
        self._conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_ms / 1000, check_same_thread=False, isolation_level=None
        )
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            _add_missing_columns(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self, work):
        with self._lock:
            try:
                return work(self._connection())
            except sqlite3.Error as exc:
                if self._conn is not None and isinstance(exc, sqlite3.DatabaseError):
                    self._close()
                raise StoreUnavailableError(f"report store {self.path}: {exc}") from exc

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close()

    def add(self, reports: Sequence[StoredReport]) -> int:
        if not reports:
            return 0
        rows = [_row(report) for report in reports]
        place_rows = [
            (place, row[1], report.id)
            for report, row in zip(reports, rows, strict=True)
            for place in report.places
        ]
        ids = [(report.id,) for report in reports]
        grid_rows = [(row[2], row[1], row[0], row[7], row[8], row[6]) for row in rows if row[2] is not None]

        def write(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("DELETE FROM report_places WHERE report_id = ?", ids)
                conn.executemany("DELETE FROM report_grid_features WHERE id = ?", ids)
                conn.executemany(
                    f"INSERT OR REPLACE INTO reports ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", rows
                )
                conn.executemany("INSERT INTO report_places VALUES (?,?,?)", place_rows)
                conn.executemany("INSERT INTO report_grid_features VALUES (?,?,?,?,?,?)", grid_rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return len(rows)

        return self._run(write)

    def candidates(
        self,
        since: datetime,
        until: datetime | None = None,
        grid_ids: Sequence[str] = (),
        places: Sequence[str] = (),
        limit: int = 5000,
        with_text: bool = True,
    ) -> list[StoredReport]:
        start = as_utc(since).timestamp()
        end = as_utc(until).timestamp() if until is not None else float("inf")
        grid_ids, places = list(dict.fromkeys(grid_ids)), list(dict.fromkeys(places))
        if not grid_ids and not places:
            return []
        parts, params = [], []
        if grid_ids:
            marks = ",".join("?" * len(grid_ids))
            parts.append(
                f"SELECT id FROM reports WHERE grid_id IN ({marks}) AND reported_at >= ? AND reported_at < ?"
            )
            params += [*grid_ids, start, end]
        if places:
            marks = ",".join("?" * len(places))
            parts.append(
                f"SELECT report_id FROM report_places WHERE place IN ({marks}) "
                "AND reported_at >= ? AND reported_at < ?"
            )
            params += [*places, start, end]
        columns = COLUMNS if with_text else LIGHT_COLUMNS
        query = (
            f"SELECT {columns} FROM reports WHERE id IN ({' UNION '.join(parts)}) "
            "ORDER BY reported_at DESC LIMIT ?"
        )
        return self._run(lambda conn: [_report(row) for row in conn.execute(query, [*params, limit])])

    def candidate_features(
        self,
        since: datetime,
        until: datetime | None = None,
        grid_ids: Sequence[str] = (),
        places: Sequence[str] = (),
        limit: int = 20_000,
    ) -> CandidateFeatures:
        start = as_utc(since).timestamp()
        end = as_utc(until).timestamp() if until is not None else float("inf")
        grid_ids, places = list(dict.fromkeys(grid_ids)), list(dict.fromkeys(places))
        if grid_ids:  # the common case: one range of a table clustered by (grid_id, reported_at)
            marks = ",".join("?" * len(grid_ids))
            query = (
                "SELECT id, places, features, leaf_id, grid_id FROM report_grid_features "
                f"WHERE grid_id IN ({marks}) "
                "AND reported_at >= ? AND reported_at < ? LIMIT ?"
            )
            params: list = [*grid_ids, start, end, limit]
        elif places:
            marks = ",".join("?" * len(places))
            query = (
                "SELECT id, places, features, leaf_id, grid_id FROM reports "
                "WHERE id IN (SELECT report_id FROM report_places "
                f"WHERE place IN ({marks}) AND reported_at >= ? AND reported_at < ?) LIMIT ?"
            )
            params = [*places, start, end, limit]
        else:
            return CandidateFeatures([], [], [])
        rows = self._run(lambda conn: conn.execute(query, params).fetchall())
        if not rows:
            return CandidateFeatures([], [], [])
        ids, joined, features, leaves, grids = zip(*rows, strict=True)
        return CandidateFeatures(
            list(ids), list(joined), [f or b"" for f in features], list(leaves), list(grids)
        )

    def recent_features(self, after: int, since: datetime) -> RecentRows:
        """The light columns of the reports written after the cursor `after`, for a reader that keeps
        them in memory: from 0, those with a grid made at or after `since`; after a cursor, all of them
        (grid None and older ones included, so the reader sees every id written again)."""
        start = as_utc(since).timestamp()

        def read(conn: sqlite3.Connection) -> RecentRows:
            # the cursor first: a row committed after this read has a larger rowid (rowids grow; a replaced
            # id is deleted and inserted again with a new, larger rowid), so the next call finds it
            cursor = conn.execute("SELECT coalesce(max(rowid), 0) FROM reports").fetchone()[0]
            if cursor <= after:  # nothing new; a smaller cursor says the newest rows were deleted
                return RecentRows([], cursor)
            columns = "id, reported_at, grid_id, places, coalesce(features, X''), leaf_id"
            if after == 0:  # the first read takes the window by time, the next ones the new rowids
                query = (
                    f"SELECT {columns} FROM reports INDEXED BY reports_time WHERE reported_at >= ? "
                    "AND rowid <= ? AND grid_id IS NOT NULL ORDER BY rowid"
                )
                params: tuple = (start, cursor)
            else:
                query = f"SELECT {columns} FROM reports WHERE rowid > ? AND rowid <= ? ORDER BY rowid"
                params = (after, cursor)
            rows = conn.execute(query, params).fetchall()
            return RecentRows(rows, cursor)

        return self._run(read)

    def get(self, ids: Sequence[str]) -> list[StoredReport]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        query = f"SELECT {COLUMNS} FROM reports WHERE id IN ({marks})"
        found = {
            r.id: r for r in self._run(lambda conn: [_report(row) for row in conn.execute(query, list(ids))])
        }
        return [found[i] for i in ids if i in found]

    def purge(self, before: datetime) -> int:
        cutoff = as_utc(before).timestamp()

        def delete(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM report_places WHERE reported_at < ?", (cutoff,))
                conn.execute("DELETE FROM report_grid_features WHERE reported_at < ?", (cutoff,))
                deleted = conn.execute("DELETE FROM reports WHERE reported_at < ?", (cutoff,)).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return deleted

        return self._run(delete)

    def count(self) -> int:
        return self._run(lambda conn: conn.execute("SELECT count(*) FROM reports").fetchone()[0])

    def status(self) -> StoreStatus:
        try:
            self._run(lambda conn: conn.execute("SELECT 1 FROM reports LIMIT 1").fetchall())
        except StoreUnavailableError as exc:
            return StoreStatus(available=False, detail=str(exc))
        return StoreStatus(available=True)


def _row(report: StoredReport) -> tuple:
    return (
        report.id,
        as_utc(report.reported_at).timestamp(),
        report.grid_id,
        report.place,
        report.title,
        report.text,
        report.leaf_id,
        PLACE_SEPARATOR.join(report.places),
        report.features or None,
        report.prepared or None,
    )


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """A store written by an older version lacks the `prepared` column: add it (rows keep NULL there)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(reports)")}
    if "prepared" not in columns:
        try:
            conn.execute("ALTER TABLE reports ADD COLUMN prepared BLOB")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise


def _report(row: tuple) -> StoredReport:
    id_, at, grid_id, place, title, text, leaf_id, places, features, prepared = row
    return StoredReport(
        id=id_,
        reported_at=datetime.fromtimestamp(at, tz=UTC),
        text=text,
        title=title,
        grid_id=grid_id,
        place=place,
        places=tuple(p for p in places.split(PLACE_SEPARATOR) if p),
        leaf_id=leaf_id,
        features=features or b"",
        prepared=prepared or b"",
    )


class SpoolingReportStore:
    """A store that never loses a report: writes the inner store can't take go to a spool file (JSON
    lines, redacted, 0600) and are replayed, oldest first, at the next write or `replay()` that finds the
    inner store answering. Reads from an unavailable store return nothing."""

    def __init__(self, inner: ReportStore, spool_path: Path, retention_days: float | None = 30) -> None:
        self.inner = inner
        self.spool_path = Path(spool_path)
        self.retention_days = retention_days
        self._memory: list[StoredReport] = []  # only when even the spool file cannot be written
        self._lock = threading.Lock()
        self._last_error: str = ""

    @classmethod
    def sqlite(
        cls, path: Path, retention_days: float | None = 30, spool_dir: Path | None = None
    ) -> SpoolingReportStore:
        """The SQLite store at `path`, spooling to `<spool_dir>/<name>.spool.jsonl` (default: beside it;
        give a directory that exists when the store's may not, e.g. an unmounted volume)."""
        spool = (spool_dir or Path(path).parent) / (Path(path).name + SPOOL_SUFFIX)
        return cls(SqliteReportStore(path), spool, retention_days)

    def add(self, reports: Sequence[StoredReport]) -> int:
        """Store or spool; returns how many reached the store itself (the rest are spooled)."""
        self.replay()
        try:
            written = self.inner.add(reports)
        except StoreUnavailableError as exc:
            self._spool(reports, str(exc))
            return 0
        self._last_error = ""
        return written

    def _spool(self, reports: Sequence[StoredReport], reason: str) -> None:
        if reason != self._last_error:
            logger.warning("report store unavailable (%s); spooling reports to %s", reason, self.spool_path)
        self._last_error = reason
        with self._lock:
            try:
                self.spool_path.parent.mkdir(parents=True, exist_ok=True)
                append_line(self.spool_path, "\n".join(_spool_line(report) for report in reports))
            except OSError as exc:
                logger.error(
                    "cannot write the spool %s (%s); keeping %d reports in memory",
                    self.spool_path,
                    exc,
                    len(reports),
                )
                self._memory.extend(reports)

    def replay(self) -> int:
        """Move spooled reports into the store when it answers; returns how many moved."""
        if not self._memory and not self.spool_path.exists():
            return 0
        with self._lock:
            try:
                with locked(self.spool_path):
                    spooled = self._read_spool()
                    pending = spooled + self._memory
                    if pending:
                        self.inner.add(pending)
                    self.spool_path.unlink(missing_ok=True)
                    self._memory = []
            except StoreUnavailableError as exc:
                self._last_error = str(exc)
                return 0
            except OSError as exc:
                logger.warning("cannot read the spool %s: %s", self.spool_path, exc)
                return 0
        if pending:
            logger.info("replayed %d spooled reports into the store", len(pending))
        return len(pending)

    def _read_spool(self) -> list[StoredReport]:
        if not self.spool_path.exists():
            return []
        reports = []
        for line in self.spool_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                reports.append(_from_spool(json.loads(line)))
        return reports

    def candidates(
        self, since, until=None, grid_ids=(), places=(), limit=5000, with_text=True
    ) -> list[StoredReport]:
        try:
            return self.inner.candidates(since, until, grid_ids, places, limit, with_text)
        except StoreUnavailableError as exc:
            self._last_error = str(exc)
            raise

    def candidate_features(
        self, since, until=None, grid_ids=(), places=(), limit=20_000
    ) -> CandidateFeatures:
        return self.inner.candidate_features(since, until, grid_ids, places, limit)

    def get(self, ids: Sequence[str]) -> list[StoredReport]:
        return self.inner.get(ids)

    def recent_features(self, after: int, since: datetime) -> RecentRows:
        read = getattr(self.inner, "recent_features", None)
        if read is None:
            raise StoreUnavailableError(f"{type(self.inner).__name__} keeps no write sequence")
        return read(after, since)

    def purge(self, before: datetime) -> int:
        return self.inner.purge(before)

    def purge_expired(self, now: datetime | None = None) -> int:
        if self.retention_days is None:
            return 0
        return self.purge((now or datetime.now(UTC)) - timedelta(days=self.retention_days))

    def count(self) -> int:
        return self.inner.count()

    def spooled(self) -> int:
        try:
            with self.spool_path.open(encoding="utf-8") as spool:
                on_disk = sum(1 for line in spool if line.strip())
        except OSError:
            on_disk = 0
        return on_disk + len(self._memory)

    def status(self) -> StoreStatus:
        inner = self.inner.status()
        return StoreStatus(available=inner.available, detail=inner.detail, spooled=self.spooled())


def _spool_line(report: StoredReport) -> str:
    record = asdict(report)
    record["reported_at"] = report.reported_at.isoformat()
    record["places"] = list(report.places)
    record["features"] = report.features.hex()
    record["prepared"] = report.prepared.hex()
    return json.dumps(record, ensure_ascii=False)


def _from_spool(record: dict) -> StoredReport:
    return StoredReport(
        id=record["id"],
        reported_at=datetime.fromisoformat(record["reported_at"]),
        text=record["text"],
        title=record.get("title"),
        grid_id=record.get("grid_id"),
        place=record.get("place"),
        places=tuple(record.get("places") or ()),
        leaf_id=record.get("leaf_id"),
        features=bytes.fromhex(record.get("features") or ""),
        prepared=bytes.fromhex(record.get("prepared") or ""),
    )
