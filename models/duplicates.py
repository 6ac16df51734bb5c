"""Duplicate reports: is report B the same problem at the same place as report A?

A pair is described by a few similarities that need no fitted vocabulary, so any city's reports can be
compared on arrival:

- ``title_dice``: character-bigram Dice of the two titles (the problem in a line);
- ``text_containment``: share of the shorter report's character 3-grams found in the other (a repost, a
  shortened or extended version);
- ``text_cosine``: cosine of the character-bigram count vectors of title and text;
- ``place_mentions`` / ``place_missing``: whether each report names the place the other is about (its
  title's places, else the first its text names; :mod:`models.places`): 1, 0.5 or 0; missing when
  neither names a place;
- ``place_conflict``: places named but neither report names the other's: one complaint template about
  two estates or streets is two problems;
- ``number_shared`` / ``number_conflict``: the numbered spots each names anywhere in its text (3号楼, 502室,
  12栋, 7单元): how many the two share (up to 3), or 1 when both name some and share none (another building);
- ``place_shared`` / ``place_disjoint``: the same for every place named anywhere in the texts (not only the
  title's or the first ones): a shop, a road or an estate named again in other words is the same spot;
- ``embedding_cosine`` (optional): cosine of mean-pooled e5 sentence embeddings (:mod:`models.encoder`),
  for paraphrases.

:class:`DuplicateScorer` is a logistic regression on these features (scikit-learn conventions: ``fit``
returns self, learned ``coef_``/``intercept_``); its two thresholds turn a score into ``duplicate``
(same problem, same place: merge), ``related`` (worth a look) or ``new``. The fitted numbers and the
thresholds chosen on labelled pairs are stored as :class:`DuplicateParams` (JSON, ``duplicate_params.json``
beside this module, and as parameters of an MLflow run: docs/BENCHMARKS.md, "Duplicates").
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from core.pii import redact_pii
from core.scrub import scrub_text
from models.places import core, extract_places, place_similarity
from models.text_ngrams import ngram_key, ngram_keys

Decision = Literal["duplicate", "related", "new"]
BASE_FEATURES: tuple[str, ...] = (
    "title_dice",
    "text_containment",
    "text_cosine",
    "place_mentions",
    "place_missing",
    "place_conflict",
    "mentions_x_cosine",
    "admin_conflict",
)
SPOT_FEATURES: tuple[str, ...] = ("number_shared", "number_conflict", "place_shared", "place_disjoint")
# what pair_features returns, in order (the embedding cosine last, 0 when not computed)
FEATURES: tuple[str, ...] = BASE_FEATURES + SPOT_FEATURES + ("embedding_cosine",)
# what intake also knows about a pair: the classifier's leaf of both, their grids and times
CONTEXT_FEATURES: tuple[str, ...] = ("same_leaf", "same_grid", "days_apart", "log_days", "within_day")
COLUMNS: tuple[str, ...] = FEATURES + CONTEXT_FEATURES  # a pair's row: FEATURES, then CONTEXT_FEATURES
MAX_SHARED_SPOTS = 3
PARAMS_FILE = Path(__file__).with_name("duplicate_params.json")
CONTEXT_PARAMS_FILE = Path(__file__).with_name("duplicate_params_context.json")
_ADMIN_UNIT = re.compile(r"[A-Z][0-9]{0,2}[市区县]|[一-鿿]{2}[市区县](?=[一-鿿])")
PLACE_HEAD_CHARS = 300  # places are read from the title and the start of the text
# a numbered spot: building, unit, room, floor, house number (Arabic digits after NFKC; PII is redacted first)
_NUMBERED_SPOT = re.compile(r"(?<![0-9])[0-9]{1,4}(?:号楼|号院|号|幢|栋|单元|室|层|楼|期|排|弄)")
MAX_TEXT_CHARS = 2000  # longer texts are compared on their first 2,000 characters


@dataclass(frozen=True, eq=False)
class PreparedReport:
    """One report ready for comparison: redacted, NFKC text, its places and its character n-grams. Each
    n-gram is one integer (:func:`_shingle_sets`: exact, no hashing), so many reports compare as arrays."""

    title: str
    text: str
    places: tuple[str, ...]
    title_places: tuple[str, ...]
    primary_places: tuple[str, ...]  # what the report is about: the title's places, else the text's first two
    joined: str
    admin_units: frozenset[str]  # the cities, districts and counties its title names (A市, A3区)
    numbered_spots: frozenset[str]  # 3号楼, 502室 ... anywhere in title and text
    spots: frozenset[str]  # the distinctive part of every place named anywhere in title and text
    title_bigrams: np.ndarray = field(repr=False)  # sorted distinct bigram codes of the title
    trigrams: np.ndarray = field(repr=False)  # sorted distinct trigram codes of title and text
    bigrams: np.ndarray = field(repr=False)  # sorted distinct bigram codes of title and text ...
    bigram_counts: np.ndarray = field(repr=False)  # ... and how often each occurs
    bigram_norm: float = 0.0

    @property
    def is_empty(self) -> bool:
        return not (self.title or self.text)


def _clean(value: str | None, redact: bool = True) -> str:
    text = unicodedata.normalize("NFKC", scrub_text(value or ""))
    return (redact_pii(text) if redact else text).strip()


def _ngrams(text: str, n: int) -> list[str]:
    compact = "".join(text.split())
    return [compact[i : i + n] for i in range(len(compact) - n + 1)] or ([compact] if compact else [])


def _shingle_sets(texts: Sequence[str], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per text, its distinct character n-grams and how often each occurs, as :func:`_ngrams` cuts them
    (whitespace dropped; a text shorter than n is one gram of itself): each gram an exact integer key
    (:func:`models.text_ngrams.ngram_keys`, 21 bits per character), sorted. All texts in one pass (a search
    prepares its shortlisted reports together)."""
    compacts = ["".join(text.split()) for text in texts]
    keys, owners = ngram_keys(compacts, (n, n))
    short = [i for i, compact in enumerate(compacts) if 0 < len(compact) < n]
    if short:  # a shorter key never equals a full one: its leading bits are 0
        keys = np.concatenate([keys, np.array([ngram_key(compacts[i]) for i in short], dtype=np.uint64)])
        owners = np.concatenate([owners, np.array(short, dtype=np.int64)])
    if len(texts) == 1:  # one report (an incoming one): no owners to keep apart
        return [_distinct(keys)]
    order = np.lexsort((keys, owners))
    keys, owners = keys[order], owners[order]
    changed = (keys[1:] != keys[:-1]) | (owners[1:] != owners[:-1])
    first = np.flatnonzero(np.concatenate(([True], changed))) if len(keys) else np.zeros(0, np.int64)
    counts = np.diff(np.append(first, len(keys))).astype(np.int64)
    bounds = np.searchsorted(owners[first], np.arange(len(texts) + 1)).tolist()
    distinct = keys[first]
    return [(distinct[a:b], counts[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _distinct(grams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values and how often each occurs."""
    grams = np.sort(grams)
    first = np.flatnonzero(np.concatenate(([True], grams[1:] != grams[:-1]))) if len(grams) else grams
    return grams[first], np.diff(np.append(first, len(grams))).astype(np.int64)


def prepare(title: str | None, text: str | None, redact: bool = True) -> PreparedReport:
    """Redact, normalise and shingle one report (cheap: about a hundred microseconds). `redact=False`
    for texts redacted already (read back from the report store)."""
    title_clean, text_clean = _clean(title, redact), _clean(text, redact)[:MAX_TEXT_CHARS]
    title_places = tuple(extract_places(title_clean))
    places = tuple(dict.fromkeys(title_places + tuple(extract_places(text_clean[:PLACE_HEAD_CHARS]))))
    named = places + tuple(extract_places(text_clean[PLACE_HEAD_CHARS:]))
    spots = frozenset(c for c in map(core, named) if len(c) >= 2)
    return _assemble([_Cleaned(title_clean, text_clean, title_places, places, spots)])[0]


@dataclass(frozen=True)
class _Cleaned:
    """A report's clean texts and the places found in them (the costly part of preparing it)."""

    title: str
    text: str
    title_places: tuple[str, ...]
    places: tuple[str, ...]
    spots: frozenset[str]


def _assemble(reports: Sequence[_Cleaned]) -> list[PreparedReport]:
    """Prepared reports from their clean texts and places: the n-grams of all of them at once."""
    joined = [f"{r.title}。{r.text}" if r.title and r.text else r.title or r.text for r in reports]
    bigrams = _shingle_sets(joined, 2)
    trigrams = _shingle_sets(joined, 3)
    title_bigrams = _shingle_sets([r.title for r in reports], 2)
    return [
        PreparedReport(
            title=r.title,
            text=r.text,
            places=r.places,
            title_places=r.title_places,
            primary_places=r.title_places or r.places[:2],
            joined=whole,
            admin_units=frozenset(_ADMIN_UNIT.findall(r.title)),
            numbered_spots=frozenset(_NUMBERED_SPOT.findall(whole)),
            spots=r.spots,
            title_bigrams=title_pair[0],
            trigrams=trigram_pair[0],
            bigrams=bigram_pair[0],
            bigram_counts=bigram_pair[1],
            bigram_norm=math.sqrt(int((bigram_pair[1] * bigram_pair[1]).sum())),
        )
        for r, whole, bigram_pair, trigram_pair, title_pair in zip(
            reports, joined, bigrams, trigrams, title_bigrams, strict=True
        )
    ]


# What a stored report keeps so that it is compared without extracting its places again; a change to
# place extraction or to PreparedReport's fields bumps the version (older payloads are prepared again).
PAYLOAD_VERSION = 1


def prepared_payload(report: PreparedReport) -> bytes:
    """The costly part of `report` (its places), to store beside its redacted text."""
    fields = {
        "v": PAYLOAD_VERSION,
        "places": report.places,
        "title_places": report.title_places,
        "spots": sorted(report.spots),
    }
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def stored_payload(report: PreparedReport, stored_title: str | None, stored_text: str | None) -> bytes:
    """The payload of `report` as stored with these (redacted) texts: its own places when the stored
    texts read back as the report's texts, else those of the stored texts prepared again."""
    as_read = (_clean(stored_title, False), _clean(stored_text, False)[:MAX_TEXT_CHARS])
    if as_read != (report.title, report.text):
        report = prepare(stored_title, stored_text, redact=False)
    return prepared_payload(report)


def prepare_stored(title: str | None, text: str | None, payload: bytes = b"") -> PreparedReport:
    """A stored (redacted) report prepared as `prepare(title, text, redact=False)` would, from the places
    in its payload when it has a current one."""
    return prepare_stored_many([(title, text, payload)])[0]


def prepare_stored_many(reports: Sequence[tuple[str | None, str | None, bytes]]) -> list[PreparedReport]:
    """:func:`prepare_stored` of many (title, text, payload) at once."""
    cleaned: dict[int, _Cleaned] = {}
    prepared: dict[int, PreparedReport] = {}
    for position, (title, text, payload) in enumerate(reports):
        try:
            fields = json.loads(payload) if payload else None
        except ValueError:
            fields = None
        if not isinstance(fields, dict) or fields.get("v") != PAYLOAD_VERSION:
            prepared[position] = prepare(title, text, redact=False)
            continue
        cleaned[position] = _Cleaned(
            _clean(title, False),
            _clean(text, False)[:MAX_TEXT_CHARS],
            tuple(fields["title_places"]),
            tuple(fields["places"]),
            frozenset(fields["spots"]),
        )
    prepared.update(zip(cleaned, _assemble(list(cleaned.values())), strict=True))
    return [prepared[position] for position in range(len(reports))]


def _member(values: np.ndarray, sorted_unique: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per value, whether it is in `sorted_unique`, and where it is (meaningful where it is)."""
    position = np.searchsorted(sorted_unique, values)
    position[position == len(sorted_unique)] = 0
    return sorted_unique[position] == values, position


def _per_other(values: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The others' arrays end to end, and each value's owner (its position in `values`)."""
    lengths = [len(v) for v in values]
    return np.concatenate(values), np.repeat(np.arange(len(values)), lengths)


def _shared(mine: np.ndarray, theirs: Sequence[np.ndarray]) -> np.ndarray:
    """How many of each other set's codes are in mine."""
    found = np.zeros(len(theirs), np.int64)
    if not len(mine) or not any(len(t) for t in theirs):
        return found
    values, owner = _per_other(theirs)
    hit, _ = _member(values, mine)
    return np.bincount(owner[hit], minlength=len(theirs))


def _dice(mine: np.ndarray, theirs: Sequence[np.ndarray]) -> np.ndarray:
    sizes = np.array([len(t) for t in theirs], dtype=float)
    both = (sizes > 0) & (len(mine) > 0)
    return np.where(both, 2 * _shared(mine, theirs) / np.maximum(sizes + len(mine), 1), 0.0)


def _containment(a: PreparedReport, others: Sequence[PreparedReport]) -> np.ndarray:
    shorter = np.array([min(len(a.trigrams), len(o.trigrams)) for o in others], dtype=float)
    shared = _shared(a.trigrams, [o.trigrams for o in others])
    return np.where(shorter > 0, shared / np.maximum(shorter, 1), 0.0)


def _cosine(a: PreparedReport, others: Sequence[PreparedReport]) -> np.ndarray:
    dots = np.zeros(len(others))
    if a.bigram_norm and any(o.bigram_norm for o in others):
        values, owner = _per_other([o.bigrams for o in others])
        counts = np.concatenate([o.bigram_counts for o in others])
        hit, position = _member(values, a.bigrams)
        products = counts[hit] * a.bigram_counts[position[hit]]  # integers: the dot products are exact
        dots = np.bincount(owner[hit], weights=products, minlength=len(others))
    norms = np.array([a.bigram_norm * o.bigram_norm for o in others])
    return np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)


def pair_features(a: PreparedReport, b: PreparedReport, embedding_cosine: float = 0.0) -> np.ndarray:
    """The FEATURES of one pair, in order."""
    return features_against(a, [b], [embedding_cosine])[0]


def features_against(
    a: PreparedReport, others: Sequence[PreparedReport], embedding_cosines: Sequence[float] | None = None
) -> np.ndarray:
    """The FEATURES of the pairs (a, other) for every other report, one row each: the n-gram
    similarities of all pairs at once, the place checks pair by pair."""
    if not others:
        return np.zeros((0, len(FEATURES)))
    cosine = _cosine(a, others)
    rows = np.zeros((len(others), len(FEATURES)))
    rows[:, 0] = _dice(a.title_bigrams, [o.title_bigrams for o in others])
    rows[:, 1] = _containment(a, others)
    rows[:, 2] = cosine
    for row, other, pair_cosine in zip(rows, others, cosine.tolist(), strict=True):
        mentions = cross_mentions(a, other)
        row[3:12] = (
            mentions if mentions is not None else 0.0,
            1.0 if mentions is None else 0.0,
            1.0 if mentions == 0.0 else 0.0,
            (mentions if mentions is not None else 0.5) * pair_cosine,
            1.0 if admin_conflict(a.admin_units, other.admin_units) else 0.0,
            *_overlap(a.numbered_spots, other.numbered_spots),
            *_overlap(a.spots, other.spots),
        )
    if embedding_cosines is not None:
        rows[:, 12] = embedding_cosines
    return rows


def _overlap(first: frozenset[str], second: frozenset[str]) -> tuple[float, float]:
    """(spots both name, up to MAX_SHARED_SPOTS; 1.0 when both name some and share none)."""
    shared = len(first & second)
    return float(min(shared, MAX_SHARED_SPOTS)), float(bool(first and second and not shared))


def context_features(
    leaf_a: str | None, leaf_b: str | None, grid_a: str | None, grid_b: str | None, days_apart: float
) -> np.ndarray:
    """CONTEXT_FEATURES of a pair: the same leaf (1/0), the same grid (1/0), days between them (also as
    log(1 + days) and whether less than a day: repeats come mostly within hours)."""
    days = abs(days_apart)
    same = (float(leaf_a == leaf_b), float(grid_a == grid_b))
    return np.array([*same, days, math.log1p(days), float(days < 1)])


def admin_conflict(first: frozenset[str], second: frozenset[str]) -> bool:
    """The titles name different cities, districts or counties: for some level (市, 区, 县) each names
    one the other does not (B市到A市 / C市到A市; A4区... / A5区...)."""
    for level in "市区县":
        only_first = {u for u in first - second if u.endswith(level)}
        only_second = {u for u in second - first if u.endswith(level)}
        if only_first and only_second:
            return True
    return False


def _mentions(places: Sequence[str], other: PreparedReport) -> bool:
    """Does the other report name one of these places (its distinctive part, or a close variant)?"""
    return (
        any(core(place) in other.joined for place in places)
        or (place_similarity(places, other.places) or 0.0) >= 0.75
    )


def cross_mentions(a: PreparedReport, b: PreparedReport) -> float | None:
    """How far each report names the place the other is about: 1.0 both ways, 0.5 one way, 0.0 neither
    (one template about two places); None when neither report names a place."""
    if not a.primary_places and not b.primary_places:
        return None
    directions = [_mentions(x.primary_places, y) for x, y in ((a, b), (b, a)) if x.primary_places]
    return sum(directions) / len(directions)


@dataclass(frozen=True)
class DuplicateParams:
    """What a fitted scorer is: coefficients per feature, the two thresholds, and where they came from."""

    coef: dict[str, float]
    intercept: float
    duplicate_threshold: float
    related_threshold: float
    use_embeddings: bool = False
    context: bool = False  # also CONTEXT_FEATURES: for pairs whose leaves, grids and times are known
    fitted_on: dict[str, str | int | float] = field(default_factory=dict)  # data fingerprint, counts
    metrics: dict[str, float] = field(default_factory=dict)  # on the labelled pairs, cross-validated
    mlflow_run_id: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DuplicateParams:
        return cls(**json.loads(text))

    @classmethod
    def load(cls, path: Path | None = None) -> DuplicateParams:
        return cls.from_json((path or PARAMS_FILE).read_text(encoding="utf-8"))


class DuplicateScorer:
    """Logistic regression on the pair features; decisions at two thresholds. Which features it uses:
    BASE_FEATURES, SPOT_FEATURES with `spots`, the embedding cosine with `use_embeddings`, CONTEXT_FEATURES
    with `context`; a scorer built from params uses the features its coefficients name (older params
    without the spot features score as before)."""

    def __init__(
        self, use_embeddings: bool = False, C: float = 1.0, context: bool = False, spots: bool = True
    ) -> None:
        self.use_embeddings = use_embeddings
        self.C = C
        self.context = context
        self.spots = spots

    @property
    def features(self) -> tuple[str, ...]:
        if hasattr(self, "coef_"):
            return tuple(self.coef_)
        return (
            BASE_FEATURES
            + (SPOT_FEATURES if self.spots else ())
            + (("embedding_cosine",) if self.use_embeddings else ())
            + (CONTEXT_FEATURES if self.context else ())
        )

    def fit(self, X: np.ndarray, y: Sequence[int]) -> DuplicateScorer:
        from sklearn.linear_model import LogisticRegression

        names = self.features
        model = LogisticRegression(C=self.C, max_iter=2000).fit(self._columns(X, names), np.asarray(y))
        self.coef_ = dict(zip(names, map(float, model.coef_[0]), strict=True))
        self.intercept_ = float(model.intercept_[0])
        return self

    @staticmethod
    def _columns(X: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """The named columns of X, whose rows are COLUMNS (FEATURES, then CONTEXT_FEATURES when known)."""
        return np.atleast_2d(X)[:, [COLUMNS.index(name) for name in names]]

    def score(self, X: np.ndarray) -> np.ndarray:
        """P(same problem, same place) per row of pair features."""
        names = self.features
        weights = np.array([self.coef_[name] for name in names])
        logits = self._columns(X, names) @ weights + self.intercept_
        return 1.0 / (1.0 + np.exp(-logits))

    @classmethod
    def from_params(cls, params: DuplicateParams) -> DuplicateScorer:
        scorer = cls(use_embeddings=params.use_embeddings, context=params.context)
        scorer.coef_ = {name: float(value) for name, value in params.coef.items()}
        scorer.intercept_ = float(params.intercept)
        return scorer


def decide(score: float, params: DuplicateParams) -> Decision:
    if score >= params.duplicate_threshold:
        return "duplicate"
    if score >= params.related_threshold:
        return "related"
    return "new"


def choose_threshold(
    scores: np.ndarray, labels: np.ndarray, min_precision: float = 0.95
) -> tuple[float, dict[str, float]]:
    """The lowest threshold whose precision is at least `min_precision` (the most recall at that
    precision); if none reaches it, the threshold of the best F1. Returns it with its metrics. One sort:
    precision and recall at every distinct score from cumulative counts."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=int)
    assert len(scores), "no scores"
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], labels[order]
    last = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1]  # end of each distinct score
    tp, fp = np.cumsum(hits)[last], np.cumsum(1 - hits)[last]
    precision = tp / (tp + fp)
    f1 = 2 * tp / (tp + fp + hits.sum())
    reaching = np.flatnonzero(precision >= min_precision)
    position = reaching[-1] if len(reaching) else int(np.argmax(f1))
    threshold = float(ranked[last[position]])
    return threshold, pair_metrics(scores >= threshold, labels)


def pair_metrics(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    predicted, labels = np.asarray(predicted, dtype=bool), np.asarray(labels, dtype=bool)
    tp = int((predicted & labels).sum())
    fp = int((predicted & ~labels).sum())
    fn = int((~predicted & labels).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


Embedder = Callable[[Sequence[str]], np.ndarray]


def e5_embedder(batch_size: int = 32, max_length: int = 256) -> Embedder:
    """L2-normalised, mean-pooled e5 embeddings of texts (the converted encoder, built once)."""
    from models.encoder import embed, ensure_encoder

    model_dir = ensure_encoder()
    return lambda texts: embed(list(texts), model_dir, batch_size=batch_size, max_length=max_length)


def embedding_text(report: PreparedReport) -> str:
    return f"{report.title}。{report.text[:400]}" if report.title else report.text[:400]


def score_pairs(
    pairs: Sequence[tuple[PreparedReport, PreparedReport]],
    params: DuplicateParams,
    embedder: Embedder | None = None,
) -> np.ndarray:
    """Scores of many pairs (the embeddings, when the params use them, computed in one batch)."""
    X = features_of(pairs, embedder if params.use_embeddings else None)
    return DuplicateScorer.from_params(params).score(X) if len(pairs) else np.zeros(0)


def features_of(
    pairs: Sequence[tuple[PreparedReport, PreparedReport]], embedder: Embedder | None = None
) -> np.ndarray:
    cosines = np.zeros(len(pairs))
    if embedder is not None and pairs:
        vectors = embedder([embedding_text(r) for pair in pairs for r in pair])
        cosines = np.einsum("ij,ij->i", vectors[0::2], vectors[1::2])
    rows = np.zeros((len(pairs), len(FEATURES)))
    by_first: dict[int, list[int]] = {}  # the pairs of each first report, compared with all at once
    for index, (first, _) in enumerate(pairs):
        by_first.setdefault(id(first), []).append(index)
    for indices in by_first.values():
        first = pairs[indices[0]][0]
        rows[indices] = features_against(first, [pairs[i][1] for i in indices], cosines[indices])
    return rows


# ---- MinHash: a cheap first look at thousands of stored candidates ----------------------------------
MINHASH_SIZE = 64
_PRIME = (1 << 61) - 1
_RNG = np.random.default_rng(20261203)
_A = _RNG.integers(1, _PRIME, MINHASH_SIZE, dtype=np.uint64)
_B = _RNG.integers(0, _PRIME, MINHASH_SIZE, dtype=np.uint64)


def minhash(report: PreparedReport) -> np.ndarray:
    """64 uint32 minimum hashes of the report's character 3-grams: the share of equal positions between
    two signatures estimates the Jaccard similarity of their 3-gram sets."""
    grams = set(_ngrams(report.joined, 3))
    if not grams:
        return np.full(MINHASH_SIZE, np.iinfo(np.uint32).max, dtype=np.uint32)
    hashes = np.fromiter(
        (zlib.crc32(gram.encode("utf-8")) for gram in grams), dtype=np.uint64, count=len(grams)
    )
    mixed = (hashes[:, None] * _A[None, :] + _B[None, :]) & np.uint64(0xFFFFFFFF)
    return mixed.min(axis=0).astype(np.uint32)


def estimated_jaccard(signature: np.ndarray, signatures: np.ndarray) -> np.ndarray:
    """Per row of `signatures` (n x 64), the estimated Jaccard similarity with `signature`."""
    if not len(signatures):
        return np.zeros(0)
    return (signatures == signature[None, :]).mean(axis=1)
