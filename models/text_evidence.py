"""Evidence phrases for any leaf-probability text model, by occlusion.

:func:`occlusion_evidence` finds the phrases that drove the decision. The text is cut into at most
``max_spans`` spans (clauses, long clauses into pieces). A span's weight is the larger of two effects on
the predicted leaf's probability: how much it drops when the span is removed (the span was necessary),
and how much the span alone raises it above the model's answer for an empty text (the span is enough on
its own). Both are needed: in "楼道里堆满杂物，消防通道被堵死了" either clause alone says "blocked fire
exit", so removing one changes nothing, yet each is evidence. Adjacent winning spans are joined into one
phrase. One extra batch of about ``2 * max_spans`` rows per report, cheap enough to run on demand, and it
works for TF-IDF and transformers alike.

Spans are cut from the prepared text, which is PII-redacted (``features.text.prepare_texts``), so no
phrase can hold personal data; a cut never falls inside a placeholder such as ``<PHONE>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from features.text import PLACEHOLDERS

ProbaFn = Callable[[list[str]], np.ndarray]
MIN_SPAN_CHARS = 3
MIN_WEIGHT = 0.01  # a phrase whose removal moves the probability by less did not drive the decision
_CLAUSE = re.compile(r"[^，。！？；、,.!?;\s]+")
_PLACEHOLDER = re.compile("|".join(map(re.escape, PLACEHOLDERS)))


@dataclass(frozen=True)
class Evidence:
    phrase: str
    weight: float  # effect on the predicted leaf's probability (module docstring)


def text_spans(text: str, max_spans: int = 12, max_chars: int | None = None) -> list[tuple[int, int]]:
    """(start, end) character spans covering ``text[:max_chars]``: clauses, then the longest spans cut in
    half until there are ``max_spans`` of them or no half would be shorter than ``MIN_SPAN_CHARS`` (two
    Chinese characters are too little to show a person why: "天半" of "天天半夜吵架")."""
    placeholders = [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(text)]
    visible = text if max_chars is None else text[: _cut_between(placeholders, max_chars, 0, max_chars)]
    spans = [(m.start(), m.end()) for m in _CLAUSE.finditer(visible)]
    spans = spans[:max_spans]
    while 0 < len(spans) < max_spans:
        longest = max(range(len(spans)), key=lambda i: spans[i][1] - spans[i][0])
        start, end = spans[longest]
        middle = _cut_between(placeholders, (start + end) // 2, start, end)
        if end - start < 2 * MIN_SPAN_CHARS or middle in (start, end):
            break
        spans[longest : longest + 1] = [(start, middle), (middle, end)]
    return spans


def _cut_between(placeholders: list[tuple[int, int]], position: int, low: int, high: int) -> int:
    """`position`, or the nearer edge (within [low, high]) of the placeholder it would cut in two."""
    for start, end in placeholders:
        if start < position < end:
            edges = [edge for edge in (start, end) if low <= edge <= high] or [low]
            return min(edges, key=lambda edge: abs(edge - position))
    return position


def occlusion_evidence(
    texts: Sequence[str],
    predict_proba: ProbaFn,
    classes: Sequence[str],
    top_n: int = 3,
    max_spans: int = 12,
    max_chars: int | None = None,
    min_weight: float = MIN_WEIGHT,
) -> list[tuple[Evidence, ...]]:
    """Per text, up to ``top_n`` phrases with the largest weight (at least ``min_weight``; see the module
    docstring). ``texts`` should be what the model sees (prepared text); ``max_chars`` limits spans to
    the part the model reads."""
    texts = list(texts)
    spans = [text_spans(text, max_spans, max_chars) for text in texts]
    without = [
        text[:start] + text[end:] for text, row in zip(texts, spans, strict=True) for start, end in row
    ]
    alone = [text[start:end] for text, row in zip(texts, spans, strict=True) for start, end in row]
    probs = np.asarray(predict_proba([*texts, "", *without, *alone]))
    base, empty = probs[: len(texts)], probs[len(texts)]
    removed, kept = np.split(probs[len(texts) + 1 :], 2)
    predicted = base.argmax(axis=1)
    answers, offset = [], 0
    for row, text in enumerate(texts):
        leaf, rows = predicted[row], slice(offset, offset + len(spans[row]))
        offset += len(spans[row])
        necessary = base[row, leaf] - removed[rows, leaf]
        sufficient = kept[rows, leaf] - empty[leaf]
        weights = np.maximum(necessary, sufficient)
        best = [i for i in np.argsort(-weights, kind="stable")[:top_n] if weights[i] >= min_weight]
        answers.append(
            _merged(text, [spans[row][i] for i in best], [float(weights[i]) for i in best])[:top_n]
        )
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
