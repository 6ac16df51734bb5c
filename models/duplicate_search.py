"""Duplicate search at intake: an incoming report against the stored reports of the last days in its grid
and the neighbouring grids (or, without a grid, the reports naming the same place), then stored itself.

The search reads the candidates in two steps so that it stays fast with a million stored reports: first
only their places and MinHash signatures (thousands per query, compared in numpy), then the full texts of
a short list (the most similar signatures and every candidate naming the same place), which are scored
pair by pair with the fitted :class:`models.duplicates.DuplicateParams`.

With a store that keeps a write sequence (`recent_features`: the SQLite store), each search object keeps
the first step in memory: :class:`RecentWindow` holds the signatures, places and leaves of the reports of
the search window (plus a day) per grid, in the store's own order, and reads only the rows written since
its last look (by this or any other process) before each batch; the shortlisted reports' prepared texts
are kept too (:data:`PREPARED_CACHE_SIZE`, dropped when their id is written again). The answers are those
of the store's queries; a search reaching back before the window's start asks the store.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import Literal

import numpy as np

from core.report_store import (
    CandidateFeatures,
    RecentRows,
    ReportStore,
    StoredReport,
    StoreUnavailableError,
    as_utc,
    redacted,
)
from models.duplicates import (
    MINHASH_SIZE,
    Decision,
    DuplicateParams,
    DuplicateScorer,
    PreparedReport,
    context_features,
    decide,
    estimated_jaccard,
    features_against,
    minhash,
    prepare,
    prepare_stored_many,
    stored_payload,
)
from models.grid_neighbours import GridNeighbours
from models.places import core

logger = logging.getLogger(__name__)

SkipReason = Literal["no_text", "no_place", "unknown_grid", "store_unavailable"]
StoredState = Literal["stored", "spooled", "not_stored"]
SKIP_DETAILS: dict[str, str] = {
    "no_text": "the report has no text: nothing to compare",
    "no_place": "no grid, no place and no place named in the text: nowhere to search",
    "unknown_grid": "the site has no grid {grid_id!r}",
    "store_unavailable": "the recent-report store is unavailable ({error}); classification only",
}
PURGE_EVERY_SECONDS = 3600.0
MIN_JACCARD = 0.05  # estimated 3-gram Jaccard below which a candidate is read only if it names the place
WINDOW_MARGIN = timedelta(days=1)  # the in-memory window reaches this far before the searches' start
PREPARED_CACHE_SIZE = 4096  # shortlisted reports whose prepared texts are kept, most recently used
ROW_SEPARATOR = "\x1e"  # between candidates' places in one string (a place key holds no control character)


@dataclass(frozen=True)
class Incoming:
    id: str
    title: str | None
    text: str | None
    reported_at: datetime  # aware
    grid_id: str | None = None
    place: str | None = None
    leaf_id: str | None = None


@dataclass(frozen=True)
class Match:
    id: str
    score: float
    decision: Decision
    reported_at: datetime
    grid_id: str | None
    title: str | None


@dataclass
class Outcome:
    decision: Decision | None = None
    skipped: SkipReason | None = None
    detail: str | None = None
    matches: list[Match] = field(default_factory=list)
    searched: int = 0
    stored: StoredState = "not_stored"


@dataclass(frozen=True)
class _Probe:
    """An incoming report prepared for search and storage."""

    item: Incoming
    report: PreparedReport
    signature: np.ndarray
    place_keys: tuple[str, ...]
    stored: StoredReport  # what is stored (redacted once: a batch's later items compare with it too)


@dataclass(frozen=True)
class _Candidates:
    """The first look at a search's stored candidates, in the store's order."""

    ids: list[str]
    places: list[str]  # each candidate's place keys joined by the store's separator
    leaf_ids: list[str | None]
    grid_ids: list[str | None]
    signatures: np.ndarray  # n x MINHASH_SIZE
    pieces: tuple[tuple[_GridRows, int, int], ...] = ()  # from a window: its grids' row spans, in order

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_store(cls, found: CandidateFeatures) -> _Candidates:
        return cls(
            found.ids,
            found.places,
            list(found.leaf_ids) or [None] * len(found),
            list(found.grid_ids) or [None] * len(found),
            _signatures(found.features) if len(found) else np.zeros((0, MINHASH_SIZE), np.uint32),
        )


class _GridRows:
    """One grid's reports in the window, sorted by (reported_at, id) as the store's index is."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.places: list[str] = []
        self.leaves: list[str | None] = []
        self.times = np.empty(16)
        self.signatures = np.empty((16, MINHASH_SIZE), np.uint32)
        self.in_order = True
        self._joined: tuple[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def append(self, id_: str, at: float, places: str, features: bytes, leaf: str | None) -> None:
        size = len(self.ids)
        if size == len(self.times):
            self.times = np.resize(self.times, 2 * size)
            self.signatures = np.resize(self.signatures, (2 * size, MINHASH_SIZE))
        if size and (at, id_) < (self.times[size - 1], self.ids[-1]):
            self.in_order = False
        self.times[size] = at
        self.signatures[size] = _signature(features)
        self.ids.append(id_)
        self.places.append(places)
        self.leaves.append(leaf)
        self._joined = None

    def extend(self, rows: Sequence[tuple[str, float, str | None, str, bytes, str | None]]) -> None:
        """Many rows at once (the first look reads the whole window): one copy of the arrays."""
        if len(rows) < 32:
            for id_, at, _, places, features, leaf in rows:
                self.append(id_, at, places, features, leaf)
            return
        size = len(self.ids)
        self.times = np.concatenate([self.times[:size], np.fromiter((r[1] for r in rows), float, len(rows))])
        self.signatures = np.concatenate([self.signatures[:size], _signatures([r[4] for r in rows])])
        self.ids.extend(r[0] for r in rows)
        self.places.extend(r[3] for r in rows)
        self.leaves.extend(r[5] for r in rows)
        self.in_order = False  # sorted when next searched
        self._joined = None

    def keep(self, positions: np.ndarray) -> None:
        """Keep only these rows, in this order."""
        self.ids = _take(self.ids, positions)
        self.places = _take(self.places, positions)
        self.leaves = _take(self.leaves, positions)
        size = max(len(positions), 16)
        self.times = np.resize(self.times[positions], size)
        self.signatures = np.resize(self.signatures[positions], (size, MINHASH_SIZE))
        self.in_order = True
        self._joined = None

    def sort(self) -> None:
        if self.in_order:
            return
        times = self.times[: len(self.ids)]
        order = np.argsort(times, kind="stable")
        ranked = times[order]
        if np.any(ranked[1:] == ranked[:-1]):  # equal times: the store's key breaks the tie by id
            order = np.lexsort((np.array(self.ids, dtype=str), times))  # code point order, as SQLite's
        self.keep(order)

    def span(self, since: float, until: float) -> tuple[int, int]:
        """Rows made in [since, until)."""
        times = self.times[: len(self.ids)]
        return int(np.searchsorted(times, since, "left")), int(np.searchsorted(times, until, "left"))

    def joined_places(self) -> tuple[str, np.ndarray]:
        """All rows' places in one string (ROW_SEPARATOR between rows) and each row's start in it."""
        if self._joined is None:
            lengths = np.fromiter(map(len, self.places), dtype=np.int64, count=len(self.places)) + 1
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, int)
            self._joined = (ROW_SEPARATOR.join(self.places), starts)
        return self._joined


class RecentWindow:
    """The light columns of the store's recent reports with a grid, in memory, per grid (see the module
    docstring). `sync` before searching; `candidates` answers like the store's `candidate_features`
    for grid searches starting at or after `start`, else None (ask the store)."""

    def __init__(self, store: ReportStore, margin: timedelta = WINDOW_MARGIN) -> None:
        self.store = store
        self.margin = margin.total_seconds()
        self.start: float | None = None  # Unix seconds; every report with a grid made since is here
        self.cursor = 0
        self.grids: dict[str, _GridRows] = {}
        self.grid_of: dict[str, str] = {}  # id -> its grid here

    def __len__(self) -> int:
        return len(self.grid_of)

    def sync(self, since: datetime) -> list[str]:
        """Read what was written since the last look, so that searches from `since` on are answered here;
        returns the ids written since the last look (none on the first). Raises StoreUnavailableError."""
        earliest = as_utc(since).timestamp() - self.margin
        if self.start is None or earliest - self.start > self.margin:  # first look, or move the start
            self._move_start(earliest)
        found: RecentRows = self.store.recent_features(self.cursor, _utc(self.start))  # type: ignore[attr-defined]
        if found.cursor < self.cursor:  # rows were deleted from the top: read everything again
            self.clear()
            self._move_start(earliest)
            found = self.store.recent_features(0, _utc(self.start))  # type: ignore[attr-defined]
        written = [row[0] for row in found.rows] if self.cursor else []
        by_grid: dict[str, list] = {}
        for row in found.rows:
            id_, at, grid = row[0], row[1], row[2]
            if id_ in self.grid_of:  # written again: the new version replaces it
                self._remove(id_)
            if grid is not None and at >= self.start:
                by_grid.setdefault(grid, []).append(row)
                self.grid_of[id_] = grid
        for grid, rows in by_grid.items():
            self.grids.setdefault(grid, _GridRows()).extend(rows)
        self.cursor = found.cursor
        return written

    def clear(self) -> None:
        self.start, self.cursor = None, 0
        self.grids.clear()
        self.grid_of.clear()

    def _move_start(self, start: float) -> None:
        if self.start is None:
            self.start = start
            return
        self.start = start
        for rows in self.grids.values():
            rows.sort()
            first, _ = rows.span(start, float("inf"))
            for id_ in rows.ids[:first]:
                self.grid_of.pop(id_, None)
            if first:
                rows.keep(np.arange(first, len(rows)))

    def _remove(self, id_: str) -> None:
        rows = self.grids[self.grid_of.pop(id_)]
        rows.keep(np.array([i for i, other in enumerate(rows.ids) if other != id_], dtype=int))

    def candidates(
        self, since: datetime, until: datetime, grid_ids: Sequence[str], limit: int
    ) -> _Candidates | None:
        start, end = as_utc(since).timestamp(), as_utc(until).timestamp()
        if self.start is None or start < self.start:
            return None
        pieces: list[tuple[str, _GridRows, int, int]] = []
        total = 0
        for grid in sorted(set(grid_ids)):  # the store's order: grid, then (reported_at, id)
            rows = self.grids.get(grid)
            if rows is None or total >= limit:
                continue
            rows.sort()
            first, last = rows.span(start, end)
            last = min(last, first + limit - total)
            if last > first:
                pieces.append((grid, rows, first, last))
                total += last - first
        return _Candidates(
            list(chain.from_iterable(rows.ids[a:b] for _, rows, a, b in pieces)),
            list(chain.from_iterable(rows.places[a:b] for _, rows, a, b in pieces)),
            list(chain.from_iterable(rows.leaves[a:b] for _, rows, a, b in pieces)),
            list(chain.from_iterable([grid] * (b - a) for grid, _, a, b in pieces)),
            np.concatenate([rows.signatures[a:b] for _, rows, a, b in pieces])
            if pieces
            else np.zeros((0, MINHASH_SIZE), np.uint32),
            tuple((rows, a, b) for _, rows, a, b in pieces),
        )

    @staticmethod
    def naming(found: _Candidates, cores: Sequence[str]) -> list[int] | None:
        """Positions of the candidates whose places contain one of `cores`, from the grids' joined
        places (one regular-expression scan); None when the candidates did not come from a window."""
        if not found.pieces or any(ROW_SEPARATOR in c for c in cores):
            return None
        if not cores:
            return []
        pattern = re.compile("|".join(re.escape(c) for c in sorted(set(cores), key=len, reverse=True)))
        positions: list[int] = []
        offset = 0
        for rows, first, last in found.pieces:
            text, starts = rows.joined_places()
            end = int(starts[last]) if last < len(starts) else len(text)
            hits = [m.start() for m in pattern.finditer(text, int(starts[first]), end)]
            if hits:
                rows_hit = np.unique(np.searchsorted(starts, hits, "right") - 1)
                positions.extend(int(r) - first + offset for r in rows_hit)
            offset += last - first
        return positions


class DuplicateSearch:
    def __init__(
        self,
        store: ReportStore,
        params: DuplicateParams,
        neighbours: GridNeighbours | None = None,
        window_days: float = 7.0,
        shortlist: int = 20,
        max_candidates: int = 20_000,
        max_matches: int = 5,
        context_params: DuplicateParams | None = None,
        in_memory: bool = True,
    ) -> None:
        self.store = store
        self.params = params
        self.scorer = DuplicateScorer.from_params(params)
        # pairs whose leaves and grids are both known are scored with these, when given
        self.context_params = context_params
        self.context_scorer = DuplicateScorer.from_params(context_params) if context_params else None
        self.neighbours = neighbours
        self.window = timedelta(days=window_days)
        self.shortlist = shortlist
        self.max_candidates = max_candidates
        self.max_matches = max_matches
        self._last_purge = 0.0
        # the first look at the candidates, and the shortlisted reports' prepared texts, kept in memory
        keeps_sequence = in_memory and hasattr(store, "recent_features")
        self.recent = RecentWindow(store) if keeps_sequence else None
        self._in_step = False  # the window has read the store's latest writes
        self._prepared: OrderedDict[str, tuple[StoredReport, PreparedReport]] = OrderedDict()
        self._searching = threading.Lock()

    def process(self, items: Sequence[Incoming]) -> list[Outcome]:
        """Search each item (against the store and the batch's earlier items), then store them all."""
        probes = [self._probe(item) for item in items]
        with self._searching:  # the window and the prepared texts are shared by the worker's threads
            self._sync([p.item.reported_at for p in probes if p.item.grid_id])
            outcomes = [self._search(probe, probes[:position]) for position, probe in enumerate(probes)]
        self._store(probes, outcomes)
        return outcomes

    def warm(self, now: datetime) -> None:
        """Read the window ending `now` into memory now, not on the worker's first search."""
        with self._searching:
            self._sync([now])

    def _sync(self, times: Sequence[datetime]) -> None:
        """Bring the in-memory window up to the store's latest writes (once per batch)."""
        self._in_step = False
        if self.recent is None or not times:
            return
        try:
            written = self.recent.sync(min(times) - self.window)
        except StoreUnavailableError:
            self.recent.clear()  # read again in full once the store answers
            self._prepared.clear()
            return
        for id_ in written:
            self._prepared.pop(id_, None)
        self._in_step = True

    def _probe(self, item: Incoming) -> _Probe:
        report = prepare(item.title, item.text)
        explicit = prepare(None, item.place).text if item.place else ""
        keys = tuple(dict.fromkeys(([explicit] if explicit else []) + list(report.primary_places)))
        signature = minhash(report)
        return _Probe(item, report, signature, keys, _as_stored(item, keys, signature, report))

    def _scope(self, probe: _Probe) -> tuple[tuple[str, ...], tuple[str, ...]] | Outcome:
        """(grid ids, place keys) to search, or the Outcome that says why there is no search."""
        item = probe.item
        if not (item.text or "").strip():
            return _skipped("no_text")
        if item.grid_id:
            if self.neighbours is not None and not self.neighbours.knows(item.grid_id):
                return _skipped("unknown_grid", grid_id=item.grid_id)
            grids = tuple(self.neighbours.of(item.grid_id)) if self.neighbours else (item.grid_id,)
            return grids, ()
        if not probe.place_keys:
            return _skipped("no_place")
        return (), probe.place_keys

    def _search(self, probe: _Probe, earlier: Sequence[_Probe]) -> Outcome:
        scope = self._scope(probe)
        if isinstance(scope, Outcome):
            return scope
        grids, places = scope
        at = probe.item.reported_at
        try:
            light = self._candidates(at - self.window, at + timedelta(seconds=1), grids, places)
            shortlisted = [i for i in self._shortlist(probe, light) if light.ids[i] != probe.item.id]
            pairs = self._read([light.ids[i] for i in shortlisted]) if shortlisted else []
        except StoreUnavailableError as exc:
            return _skipped("store_unavailable", error=str(exc))
        pairs += [(p.stored, p.report) for p in earlier if _in_scope(p, grids, places, self.neighbours)]
        matches = self._score(probe, pairs)
        return Outcome(
            decision=matches[0].decision if matches else "new",
            matches=matches,
            searched=len(light) + len(earlier),
        )

    def _candidates(
        self, since: datetime, until: datetime, grids: Sequence[str], places: Sequence[str]
    ) -> _Candidates:
        """The first look: from the in-memory window when it covers the search, else from the store."""
        if grids and self._in_step and self.recent is not None:
            found = self.recent.candidates(since, until, grids, self.max_candidates)
            if found is not None:
                return found
        return _Candidates.from_store(
            self.store.candidate_features(since, until, grids, places, self.max_candidates)
        )

    def _read(self, ids: Sequence[str]) -> list[tuple[StoredReport, PreparedReport]]:
        """The shortlisted reports, stored and prepared, in the order asked (ids no longer stored are
        left out); prepared texts come from memory when the window is in step with the store."""
        if not (self._in_step and self.recent is not None):
            return _prepared(self.store.get(ids))
        found = {id_: self._prepared[id_] for id_ in ids if id_ in self._prepared}
        missing = [id_ for id_ in ids if id_ not in found]
        for stored, prepared in _prepared(self.store.get(missing)) if missing else []:
            found[stored.id] = (stored, prepared)
        for id_ in ids:
            if id_ in found:
                self._prepared[id_] = found[id_]
                self._prepared.move_to_end(id_)
        while len(self._prepared) > PREPARED_CACHE_SIZE:
            self._prepared.popitem(last=False)
        return [found[id_] for id_ in ids if id_ in found]

    def _shortlist(self, probe: _Probe, candidates: _Candidates) -> list[int]:
        """Positions of the candidates worth reading in full: the most similar MinHash signatures, and
        those whose stored places contain the distinctive part of a place this report is about."""
        if not len(candidates):
            return []
        similarity = estimated_jaccard(probe.signature, candidates.signatures)
        top = np.argsort(-similarity, kind="stable")[: self.shortlist]
        order = [int(i) for i in top if similarity[i] >= MIN_JACCARD]
        cores = [c for c in (core(place) for place in probe.report.primary_places) if len(c) >= 2]
        same_place = RecentWindow.naming(candidates, cores)
        if same_place is None:
            same_place = [
                i for i, joined in enumerate(candidates.places) if joined and any(c in joined for c in cores)
            ]
        if same_place:  # the most similar first (a stable sort, as sorted() is)
            chosen = np.asarray(same_place, dtype=int)
            same_place = chosen[np.argsort(-similarity[chosen], kind="stable")][: self.shortlist].tolist()
        same_leaf = []
        if self.context_params is not None and probe.item.leaf_id:  # repeats in other words
            same_leaf = [
                i
                for i, (leaf, grid) in enumerate(zip(candidates.leaf_ids, candidates.grid_ids, strict=True))
                if leaf == probe.item.leaf_id and grid == probe.item.grid_id
            ][: self.shortlist]
        return list(dict.fromkeys(order + same_place + same_leaf))

    def _score(self, probe: _Probe, pairs: Sequence[tuple[StoredReport, PreparedReport]]) -> list[Match]:
        if not pairs:
            return []
        X = features_against(probe.report, [other for _, other in pairs])
        scores = self.scorer.score(X)
        chosen = [self.params] * len(pairs)
        item = probe.item
        if self.context_scorer is not None and item.leaf_id and item.grid_id:
            known = [i for i, (c, _) in enumerate(pairs) if c.leaf_id and c.grid_id]
            if known:
                context = np.array(
                    [
                        context_features(
                            item.leaf_id,
                            pairs[i][0].leaf_id,
                            item.grid_id,
                            pairs[i][0].grid_id,
                            (item.reported_at - pairs[i][0].reported_at).total_seconds() / 86_400,
                        )
                        for i in known
                    ]
                )
                scores[known] = self.context_scorer.score(np.hstack([X[known], context]))
                for i in known:
                    chosen[i] = self.context_params
        matches = [
            Match(c.id, round(float(s), 4), decide(float(s), params), c.reported_at, c.grid_id, c.title)
            for (c, _), s, params in zip(pairs, scores, chosen, strict=True)
            if s >= params.related_threshold
        ]
        rank = {"duplicate": 0, "related": 1, "new": 2}
        return sorted(matches, key=lambda m: (rank[m.decision], -m.score))[: self.max_matches]

    def _store(self, probes: Sequence[_Probe], outcomes: Sequence[Outcome]) -> None:
        records = [
            (outcome, probe.stored)
            for probe, outcome in zip(probes, outcomes, strict=True)
            if (probe.item.text or "").strip()
        ]
        if not records:
            return
        written = self.store.add([record for _, record in records])
        state: StoredState = "stored" if written else "spooled"
        for outcome, _ in records:
            outcome.stored = state
        self._purge_now_and_then()

    def _purge_now_and_then(self) -> None:
        now = time.monotonic()
        purge = getattr(self.store, "purge_expired", None)
        if purge is None or now - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = now
        try:
            removed = purge()
            if removed:
                logger.info("report store: %d reports past the retention window removed", removed)
        except StoreUnavailableError as exc:
            logger.warning("report store: retention purge failed: %s", exc)


def _prepared(stored: Sequence[StoredReport]) -> list[tuple[StoredReport, PreparedReport]]:
    """Stored reports with their prepared texts (all prepared at once)."""
    prepared = prepare_stored_many([(c.title, c.text, c.prepared) for c in stored])
    return list(zip(stored, prepared, strict=True))


def _take(values: list, positions: np.ndarray) -> list:
    """values[i] for i in positions, as a list."""
    if len(positions) < 2:
        return [values[i] for i in positions.tolist()]
    return list(itemgetter(*positions.tolist())(values))


def _skipped(reason: SkipReason, **values: str) -> Outcome:
    return Outcome(skipped=reason, detail=SKIP_DETAILS[reason].format(**values))


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _signature(blob: bytes) -> np.ndarray:
    """One stored signature; a blob of another size (a writer without signatures) becomes zeros."""
    if len(blob) == MINHASH_SIZE * 4:
        return np.frombuffer(blob, dtype=np.uint32)
    return np.zeros(MINHASH_SIZE, np.uint32)


def _signatures(features: Sequence[bytes]) -> np.ndarray:
    """n x 64 signatures; a blob of another size (a writer without signatures) becomes zeros."""
    size = MINHASH_SIZE * 4
    if all(len(blob) == size for blob in features):
        return np.frombuffer(b"".join(features), dtype=np.uint32).reshape(len(features), MINHASH_SIZE)
    return np.stack(
        [
            np.frombuffer(blob, dtype=np.uint32) if len(blob) == size else np.zeros(MINHASH_SIZE, np.uint32)
            for blob in features
        ]
    )


def _as_stored(
    item: Incoming, place_keys: tuple[str, ...], signature: np.ndarray, report: PreparedReport
) -> StoredReport:
    """The report as stored, with what a later search needs to compare it without preparing it again."""
    stored = redacted(
        item.id,
        as_utc(item.reported_at),
        item.text or "",
        title=item.title,
        grid_id=item.grid_id,
        place=item.place,
        places=place_keys,
        leaf_id=item.leaf_id,
        features=signature.tobytes(),
    )
    return replace(stored, prepared=stored_payload(report, stored.title, stored.text))


def _in_scope(
    probe: _Probe, grids: Sequence[str], places: Sequence[str], neighbours: GridNeighbours | None
) -> bool:
    """Is an earlier item of the same batch within the search scope (its grid, or a shared place)?"""
    if not (probe.item.text or "").strip():
        return False
    if grids:
        return probe.item.grid_id in grids
    return bool(set(places) & set(probe.place_keys))
