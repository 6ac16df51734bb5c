"""Hierarchical view of a leaf classifier's output, shared by every text model.

A text model predicts probabilities over taxonomy leaves. The probability of an L1 (or L2) category is the
sum over its leaves, computed as one matrix product with a leaf -> category indicator matrix. The predicted
leaf is the most probable leaf, and its L1/L2 are its parents, so the three levels always agree.

Multi-label: a compound report ("占道经营还噪音扰民") gets every leaf whose probability reaches a threshold
(:func:`report_labels`), the primary (most probable) leaf first. The primary leaf is always included, so
single-label callers lose nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from features.taxonomy import Leaf, Taxonomy
from features.text import prepare_texts
from models.text_evidence import Evidence, ProbaFn, occlusion_evidence

DEFAULT_LABEL_THRESHOLD = 0.2  # multi-label; measured on the demo's compound reports (docs/BENCHMARKS.md)


@dataclass(frozen=True)
class Alternative:
    leaf_id: str
    category_l3: str
    probability: float
    department: str


@dataclass(frozen=True)
class TextPrediction:
    """One report's classification: the leaf, its parents, the probability at each level and what follows."""

    leaf_id: str
    category_l1: str
    category_l2: str
    category_l3: str
    p_l1: float
    p_l2: float
    p_l3: float
    department: str
    risk_group: str
    needs_review: bool
    alternatives: tuple[Alternative, ...]
    labels: tuple[Alternative, ...] = ()  # every leaf at or above the label threshold, primary first

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LevelIndicator:
    """Leaf (in a model's class order) -> category of one level, as a 0/1 matrix (n_classes, n_categories)."""

    categories: tuple[tuple[str, ...], ...]  # (l1,) or (l1, l2): one per column
    matrix: np.ndarray
    index_of_class: np.ndarray  # (n_classes,) column of each class's category

    def aggregate(self, leaf_probs: np.ndarray) -> np.ndarray:
        """(n, n_classes) leaf probabilities -> (n, n_categories) category probabilities."""
        return leaf_probs @ self.matrix


def level_indicator(taxonomy: Taxonomy, classes: Sequence[str], level: int) -> LevelIndicator:
    """Indicator for level 1 or 2. Categories are paths, ``(l1,)`` or ``(l1, l2)``: the same L2 name may
    appear under two L1s."""
    leaves = [taxonomy.leaf(leaf_id) for leaf_id in classes]
    keys = [_level_key(leaf, level) for leaf in leaves]
    unique_keys = list(dict.fromkeys(keys))
    column = {key: position for position, key in enumerate(unique_keys)}
    index_of_class = np.array([column[key] for key in keys], dtype=np.intp)
    matrix = np.zeros((len(leaves), len(unique_keys)))
    matrix[np.arange(len(leaves)), index_of_class] = 1.0
    return LevelIndicator(tuple(unique_keys), matrix, index_of_class)


def _level_key(leaf: Leaf, level: int) -> tuple[str, ...]:
    if level == 1:
        return (leaf.l1,)
    if level == 2:
        return (leaf.l1, leaf.l2)
    raise ValueError(f"level must be 1 or 2, not {level}")


def parent_probabilities(
    leaf_probs: np.ndarray, leaf_index: np.ndarray, indicator: LevelIndicator
) -> np.ndarray:
    """For each row, the probability of the category that contains the row's chosen leaf."""
    category_probs = indicator.aggregate(leaf_probs)
    columns = indicator.index_of_class[leaf_index]
    # a sum of leaf probabilities can exceed 1 by a rounding error, which the API's schema refuses
    return np.clip(np.take_along_axis(category_probs, columns[:, None], axis=1)[:, 0], 0.0, 1.0)


def top_k_indices(probs: np.ndarray, k: int) -> np.ndarray:
    """(n, k) class indices by decreasing probability; ties go to the lower class index."""
    k = min(k, probs.shape[1])
    return np.argsort(-probs, axis=1, kind="stable")[:, :k]


def describe_probabilities(
    probs: np.ndarray,
    classes: Sequence[str],
    taxonomy: Taxonomy,
    top_k: int = 3,
    review_threshold: float = 0.5,
    label_threshold: float = DEFAULT_LABEL_THRESHOLD,
) -> list[TextPrediction]:
    """Turn leaf probabilities (rows in ``classes`` order) into one TextPrediction per row."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise ValueError(f"probabilities of shape {probs.shape} do not match {len(classes)} classes")
    leaves = [taxonomy.leaf(leaf_id) for leaf_id in classes]
    ranked = top_k_indices(probs, max(top_k, 1))
    best = ranked[:, 0]
    p_leaf = probs[np.arange(len(probs)), best]
    p_l1 = parent_probabilities(probs, best, level_indicator(taxonomy, classes, 1))
    p_l2 = parent_probabilities(probs, best, level_indicator(taxonomy, classes, 2))
    needs_review = p_leaf < review_threshold
    alternatives = ranked[:, : max(top_k, 0)]
    labels = report_labels(probs, classes, taxonomy, label_threshold)
    return [
        _prediction(
            leaves[best[row]],
            (p_l1[row], p_l2[row], p_leaf[row]),
            needs_review[row],
            leaves,
            probs[row],
            alternatives[row],
            labels[row],
        )
        for row in range(len(probs))
    ]


def _prediction(
    best: Leaf,
    level_probs: tuple[float, float, float],
    needs_review: bool,
    leaves: list[Leaf],
    row_probs: np.ndarray,
    alternatives: np.ndarray,
    labels: tuple[Alternative, ...],
) -> TextPrediction:
    p_l1, p_l2, p_l3 = (float(p) for p in level_probs)
    return TextPrediction(
        leaf_id=best.id,
        category_l1=best.l1,
        category_l2=best.l2,
        category_l3=best.l3,
        p_l1=p_l1,
        p_l2=p_l2,
        p_l3=p_l3,
        department=best.department,
        risk_group=best.risk_group,
        needs_review=bool(needs_review),
        alternatives=tuple(
            Alternative(leaves[i].id, leaves[i].l3, float(row_probs[i]), leaves[i].department)
            for i in alternatives
        ),
        labels=labels,
    )


def report_labels(
    probs: np.ndarray,
    classes: Sequence[str],
    taxonomy: Taxonomy,
    threshold: float = DEFAULT_LABEL_THRESHOLD,
    max_labels: int = 3,
) -> list[tuple[Alternative, ...]]:
    """Per row: the leaves with probability >= ``threshold`` (at most ``max_labels``), primary first."""
    probs = np.asarray(probs, dtype=float)
    leaves = [taxonomy.leaf(leaf_id) for leaf_id in classes]
    ranked = top_k_indices(probs, max_labels)
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


def as_texts(texts: Iterable[str]) -> list[str]:
    """Texts as a list of strings (None -> ""); a lone string is a caller's mistake, not 1 text per char."""
    if isinstance(texts, str):
        raise TypeError("expected a sequence of texts, got a single string")
    return ["" if text is None else str(text) for text in texts]


def check_labels(labels: np.ndarray, taxonomy: Taxonomy) -> None:
    """Every training label must be a leaf of the taxonomy, and there must be at least two."""
    unknown = sorted({str(label) for label in labels} - set(taxonomy.leaf_ids))
    if unknown:
        raise ValueError(f"labels not in taxonomy {taxonomy.name} {taxonomy.version}: {unknown[:10]}")
    if len(set(labels)) < 2:
        raise ValueError("need at least two distinct leaves to train a classifier")


class LeafProbabilityOutputs:
    """`predict`, `describe`, `labels` and `evidence` for any text model whose `predict_proba` scores the
    taxonomy's leaves (columns in `classes_` order) and that has `taxonomy_` and `review_threshold`
    (`label_threshold` is optional: models saved before it existed use the default)."""

    def predict(self, texts: Iterable[str]) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(texts), axis=1)]

    def describe(
        self,
        texts: Iterable[str],
        top_k: int = 3,
        review_threshold: float | None = None,
        label_threshold: float | None = None,
    ) -> list[TextPrediction]:
        """Leaf, L1/L2 parents and their probabilities, department, risk group, top-k leaves, needs_review
        (leaf probability below ``review_threshold``) and the multi-label answer (leaves at or above
        ``label_threshold``); the estimator's own thresholds when None."""
        review = self.review_threshold if review_threshold is None else review_threshold
        return describe_probabilities(
            self.predict_proba(texts),
            self.classes_,
            self.taxonomy_,
            top_k,
            review,
            self._labels_at(label_threshold),
        )

    def labels(self, texts: Iterable[str], threshold: float | None = None) -> list[tuple[Alternative, ...]]:
        """Every leaf with probability >= ``threshold`` (default ``label_threshold``), primary first."""
        return report_labels(
            self.predict_proba(texts), self.classes_, self.taxonomy_, self._labels_at(threshold)
        )

    def evidence(
        self, texts: Iterable[str], top_n: int = 3, max_spans: int = 12
    ) -> list[tuple[Evidence, ...]]:
        """Phrases of each (prepared) text that drove its prediction, by occlusion: up to
        ``2 * max_spans`` extra predictions per text (``models.text_evidence``)."""
        prepared, proba = self._evidence_inputs(prepare_texts(as_texts(texts)))
        return occlusion_evidence(prepared, proba, self.classes_, top_n, max_spans)

    def _evidence_inputs(self, prepared: list[str]) -> tuple[list[str], ProbaFn]:
        """The text the model reads and the probability function to occlude it with (prepared text in)."""
        return prepared, self.predict_proba

    def _labels_at(self, threshold: float | None) -> float:
        if threshold is not None:
            return threshold
        return getattr(self, "label_threshold", DEFAULT_LABEL_THRESHOLD)
