"""Duplicate search at intake: an incoming report against the stored reports of the last days in its grid
and the neighbouring grids (or, without a grid, the reports naming the same place), then stored itself.

The search reads the candidates in two steps so that it stays fast with a million stored reports: first
only their places and MinHash signatures (thousands per query, compared in numpy), then the full texts of
a short list (the most similar signatures and every candidate naming the same place), which are scored
pair by pair with the fitted :class:`models.duplicates.DuplicateParams`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from core.report_store import (
    CandidateFeatures,
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
    minhash,
    pair_features,
    prepare,
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

    def process(self, items: Sequence[Incoming]) -> list[Outcome]:
        """Search each item (against the store and the batch's earlier items), then store them all."""
        probes = [self._probe(item) for item in items]
        outcomes = [self._search(probe, probes[:position]) for position, probe in enumerate(probes)]
        self._store(probes, outcomes)
        return outcomes

    def _probe(self, item: Incoming) -> _Probe:
        report = prepare(item.title, item.text)
        explicit = prepare(None, item.place).text if item.place else ""
        keys = tuple(dict.fromkeys(([explicit] if explicit else []) + list(report.primary_places)))
        return _Probe(item, report, minhash(report), keys)

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
            light = self.store.candidate_features(
                at - self.window, at + timedelta(seconds=1), grids, places, self.max_candidates
            )
            shortlisted = [i for i in self._shortlist(probe, light) if light.ids[i] != probe.item.id]
            full = self.store.get([light.ids[i] for i in shortlisted]) if shortlisted else []
        except StoreUnavailableError as exc:
            return _skipped("store_unavailable", error=str(exc))
        pairs = [(c, prepare(c.title, c.text, redact=False)) for c in full]
        pairs += [(_as_stored(p), p.report) for p in earlier if _in_scope(p, grids, places, self.neighbours)]
        matches = self._score(probe, pairs)
        return Outcome(
            decision=matches[0].decision if matches else "new",
            matches=matches,
            searched=len(light) + len(earlier),
        )

    def _shortlist(self, probe: _Probe, candidates: CandidateFeatures) -> list[int]:
        """Positions of the candidates worth reading in full: the most similar MinHash signatures, and
        those whose stored places contain the distinctive part of a place this report is about."""
        if not len(candidates):
            return []
        similarity = estimated_jaccard(probe.signature, _signatures(candidates.features))
        top = np.argsort(-similarity, kind="stable")[: self.shortlist]
        order = [int(i) for i in top if similarity[i] >= MIN_JACCARD]
        cores = [c for c in (core(place) for place in probe.report.primary_places) if len(c) >= 2]
        same_place = [
            i for i, joined in enumerate(candidates.places) if joined and any(c in joined for c in cores)
        ]
        same_place = sorted(same_place, key=lambda i: -similarity[i])[: self.shortlist]
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
        X = np.array([pair_features(probe.report, other) for _, other in pairs])
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
            (outcome, _as_stored(probe))
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


def _skipped(reason: SkipReason, **values: str) -> Outcome:
    return Outcome(skipped=reason, detail=SKIP_DETAILS[reason].format(**values))


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


def _as_stored(probe: _Probe) -> StoredReport:
    item = probe.item
    return redacted(
        item.id,
        as_utc(item.reported_at),
        item.text or "",
        title=item.title,
        grid_id=item.grid_id,
        place=item.place,
        places=probe.place_keys,
        leaf_id=item.leaf_id,
        features=probe.signature.tobytes(),
    )


def _in_scope(
    probe: _Probe, grids: Sequence[str], places: Sequence[str], neighbours: GridNeighbours | None
) -> bool:
    """Is an earlier item of the same batch within the search scope (its grid, or a shared place)?"""
    if not (probe.item.text or "").strip():
        return False
    if grids:
        return probe.item.grid_id in grids
    return bool(set(places) & set(probe.place_keys))
