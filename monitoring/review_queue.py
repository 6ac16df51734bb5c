"""Which unreviewed reports a person should label first: the ones whose labels would teach the model most.

Priority of a report = uncertainty + novelty + disagreement:
- uncertainty: 1 − (top leaf probability − runner-up's), in [0, 1];
- novelty: the share of the text's character 2-/3-grams the model never saw (`monitoring.scoring`),
  as a percentile rank among the candidates, in [0, 1]: a new phrasing is what the model cannot learn
  from what it has;
- disagreement: +1 when a second model (a cascade's fast model) chose another leaf.

A queue of the top priorities alone spends its labels on one new phrasing many times over (a new template
arrives as dozens of similar reports), so the queue is diverse: going down the priorities, a report is
skipped while one already chosen shares more than `max_similarity` of its character-bigram profile
(cosine). Labelling time then goes to as many different new phrasings as possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from models.text_ngrams import ngram_keys

DEFAULT_MAX_SIMILARITY = 0.5
_HASH_BUCKETS = 1 << 20
SIMILARITY_NGRAMS = (2, 2)


@dataclass(frozen=True)
class Candidate:
    """An unreviewed answer as the ranking sees it."""

    margin: float
    novelty: float | None
    disagreement: bool = False


def priorities(candidates: Sequence[Candidate]) -> tuple[np.ndarray, np.ndarray]:
    """(priority, uncertainty) per candidate."""
    uncertainty = np.clip(1.0 - np.array([c.margin for c in candidates], dtype=float), 0.0, 1.0)
    novelty = np.array([np.nan if c.novelty is None else c.novelty for c in candidates], dtype=float)
    rank = _percentile_rank(novelty)
    disagreement = np.array([c.disagreement for c in candidates], dtype=float)
    return uncertainty + rank + disagreement, uncertainty


def _percentile_rank(values: np.ndarray) -> np.ndarray:
    """Each value's share of the measured values at or below it; 0 where not measured."""
    measured = ~np.isnan(values)
    rank = np.zeros(len(values))
    if measured.any():
        ordered = np.sort(values[measured])
        rank[measured] = np.searchsorted(ordered, values[measured], side="right") / len(ordered)
    return rank


def diverse_top(
    texts: Sequence[str], priority: np.ndarray, k: int, max_similarity: float = DEFAULT_MAX_SIMILARITY
) -> list[int]:
    """Indices of up to `k` texts, highest priority first, none too similar to one chosen before it.
    When fewer than `k` pass the similarity rule, the rest are filled by priority."""
    order = np.argsort(-np.asarray(priority), kind="stable")
    profiles = _profiles(texts)
    chosen: list[int] = []
    skipped: list[int] = []
    for index in order:
        if len(chosen) == k:
            break
        if chosen and (profiles[chosen] @ profiles[index].T).max() > max_similarity:
            skipped.append(int(index))
            continue
        chosen.append(int(index))
    return chosen + skipped[: k - len(chosen)]


def _profiles(texts: Sequence[str]) -> sp.csr_matrix:
    """L2-normalised character-bigram counts, hashed into a fixed number of columns."""
    keys, owners = ngram_keys(list(texts), SIMILARITY_NGRAMS)
    columns = (keys % np.uint64(_HASH_BUCKETS)).astype(np.int64)
    matrix = sp.csr_matrix(
        (np.ones(len(columns)), (owners, columns)), shape=(len(texts), _HASH_BUCKETS), dtype=float
    )
    matrix.sum_duplicates()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ matrix
