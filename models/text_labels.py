"""Multi-label answers and evidence phrases for any leaf-probability text model.

- :func:`report_labels`: a compound report ("占道经营还噪音扰民") gets every leaf whose probability
  reaches a threshold, the primary (most probable) leaf first. The primary leaf is always included, so
  single-label callers lose nothing.
- :func:`occlusion_evidence`: the phrases that drove the decision. The text is cut into at most
  ``max_spans`` spans (clauses, long clauses into pieces); each span is removed in turn and the drop in
  the predicted leaf's probability is its weight; adjacent winning spans are joined into one phrase.
  One extra batch of ``max_spans`` rows per report, so it is cheap enough to run on demand, and it works
  for TF-IDF and transformers alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from features.taxonomy import Taxonomy
from models.text_prediction import Alternative

ProbaFn = Callable[[list[str]], np.ndarray]
_CLAUSE = re.compile(r"[^，。！？；、,.!?;\s]+")


@dataclass(frozen=True)
class Evidence:
    phrase: str
    weight: float  # drop in the predicted leaf's probability when the phrase is removed


def report_labels(
    probs: np.ndarray,
    classes: Sequence[str],
    taxonomy: Taxonomy,
    threshold: float = 0.3,
    max_labels: int = 3,
) -> list[tuple[Alternative, ...]]:
    """Per row: the leaves with probability >= ``threshold`` (at most ``max_labels``), primary first."""
    probs = np.asarray(probs, dtype=float)
    leaves = [taxonomy.leaf(leaf_id) for leaf_id in classes]
    ranked = np.argsort(-probs, axis=1, kind="stable")[:, :max_labels]
    answers = []
    for row, order in enumerate(ranked):
        kept = [order[0]] + [i for i in order[1:] if probs[row, i] >= threshold]
        answers.append(
            tuple(
                Alternative(leaves[i].id, leaves[i].l3, float(probs[row, i]), leaves[i].department)
                for i in kept
            )
        )
    return answers


def text_spans(text: str, max_spans: int = 12, max_chars: int | None = None) -> list[tuple[int, int]]:
    """(start, end) character spans covering ``text[:max_chars]``: clauses, then the longest spans cut in
    half until there are ``max_spans`` of them (or none is longer than 2 characters)."""
    visible = text if max_chars is None else text[:max_chars]
    spans = [(m.start(), m.end()) for m in _CLAUSE.finditer(visible)]
    spans = spans[:max_spans]
    while 0 < len(spans) < max_spans:
        longest = max(range(len(spans)), key=lambda i: spans[i][1] - spans[i][0])
        start, end = spans[longest]
        if end - start <= 2:
            break
        middle = (start + end) // 2
        spans[longest : longest + 1] = [(start, middle), (middle, end)]
    return spans


def occlusion_evidence(
    texts: Sequence[str],
    predict_proba: ProbaFn,
    classes: Sequence[str],
    top_n: int = 3,
    max_spans: int = 12,
    max_chars: int | None = None,
) -> list[tuple[Evidence, ...]]:
    """Per text, up to ``top_n`` phrases whose removal lowers the predicted leaf's probability most.
    ``texts`` should be what the model sees (prepared text); ``max_chars`` limits spans to the part the
    model reads."""
    texts = list(texts)
    base = np.asarray(predict_proba(texts))
    predicted = base.argmax(axis=1)
    spans = [text_spans(text, max_spans, max_chars) for text in texts]
    variants = [
        text[:start] + text[end:] for text, row in zip(texts, spans, strict=True) for start, end in row
    ]
    occluded = np.asarray(predict_proba(variants)) if variants else np.zeros((0, len(classes)))
    answers, offset = [], 0
    for row, text in enumerate(texts):
        n = len(spans[row])
        drops = base[row, predicted[row]] - occluded[offset : offset + n, predicted[row]]
        offset += n
        best = [i for i in np.argsort(-drops, kind="stable")[:top_n] if drops[i] > 0]
        answers.append(_merged(text, [spans[row][i] for i in best], [float(drops[i]) for i in best])[:top_n])
    return answers


def _merged(text: str, spans: list[tuple[int, int]], weights: list[float]) -> tuple[Evidence, ...]:
    """Adjacent spans become one phrase (a long clause cut in half may split a word), weighted by its
    strongest part; strongest phrase first."""
    merged: list[tuple[int, int, float]] = []
    for start, end, weight in sorted((a, b, w) for (a, b), w in zip(spans, weights, strict=True)):
        if merged and merged[-1][1] == start:
            previous = merged.pop()
            start, weight = previous[0], max(previous[2], weight)
        merged.append((start, end, weight))
    merged.sort(key=lambda item: -item[2])
    return tuple(Evidence(text[start:end], weight) for start, end, weight in merged)
