"""Evidence phrases for any leaf-probability text model, by occlusion.

:func:`occlusion_evidence` finds the phrases that drove the decision. The text is cut into at most
``max_spans`` spans (clauses, long clauses into pieces); each span is removed in turn and the drop in the
predicted leaf's probability is its weight; adjacent winning spans are joined into one phrase. One extra
batch of ``max_spans`` rows per report, so it is cheap enough to run on demand, and it works for TF-IDF
and transformers alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

ProbaFn = Callable[[list[str]], np.ndarray]
MIN_WEIGHT = 0.01  # a phrase whose removal moves the probability by less did not drive the decision
_CLAUSE = re.compile(r"[^，。！？；、,.!?;\s]+")


@dataclass(frozen=True)
class Evidence:
    phrase: str
    weight: float  # drop in the predicted leaf's probability when the phrase is removed


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
    min_weight: float = MIN_WEIGHT,
) -> list[tuple[Evidence, ...]]:
    """Per text, up to ``top_n`` phrases whose removal lowers the predicted leaf's probability most (by
    at least ``min_weight``). ``texts`` should be what the model sees (prepared text); ``max_chars``
    limits spans to the part the model reads."""
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
        best = [i for i in np.argsort(-drops, kind="stable")[:top_n] if drops[i] >= min_weight]
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
