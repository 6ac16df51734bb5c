"""Evaluation metrics for the text classifier and the risk forecaster (numpy/pandas only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.taxonomy import Taxonomy


# ---- text ---------------------------------------------------------------------------------------------
def text_metrics(y_true: Sequence[str], y_pred: Sequence[str], taxonomy: Taxonomy) -> dict[str, float]:
    """Accuracy and macro-F1 at the leaf, L2 and L1 levels; parents come from the taxonomy, so a wrong
    leaf under the right L1 still counts as right at L1."""
    true_leaves = [taxonomy.leaf(leaf_id) for leaf_id in y_true]
    pred_leaves = [taxonomy.leaf(leaf_id) for leaf_id in y_pred]
    if len(true_leaves) != len(pred_leaves):
        raise ValueError(f"{len(true_leaves)} true labels but {len(pred_leaves)} predictions")
    levels = {
        "leaf": lambda leaf: leaf.id,
        "l2": lambda leaf: f"{leaf.l1}/{leaf.l2}",
        "l1": lambda leaf: leaf.l1,
    }
    metrics: dict[str, float] = {}
    for level, key in levels.items():
        truth = np.array([key(leaf) for leaf in true_leaves], dtype=object)
        predicted = np.array([key(leaf) for leaf in pred_leaves], dtype=object)
        metrics[f"accuracy_{level}"] = accuracy(truth, predicted)
        metrics[f"macro_f1_{level}"] = macro_f1(truth, predicted)
    return metrics


def accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def macro_f1(y_true: Sequence, y_pred: Sequence) -> float:
    """Unweighted mean of per-class F1 over every class seen in either array (as scikit-learn does)."""
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    if not len(y_true):
        return float("nan")
    labels, codes = np.unique(np.concatenate([y_true, y_pred]).astype(str), return_inverse=True)
    true_codes, pred_codes = codes[: len(y_true)], codes[len(y_true) :]
    hits = true_codes == pred_codes
    true_positives = np.bincount(true_codes[hits], minlength=len(labels))
    support = np.bincount(true_codes, minlength=len(labels))
    predicted = np.bincount(pred_codes, minlength=len(labels))
    return float(np.mean(2 * true_positives / (support + predicted)))


# ---- risk ---------------------------------------------------------------------------------------------
def risk_metrics(
    scores: np.ndarray, y: np.ndarray, counts: np.ndarray, week: np.ndarray, share: float = 0.10
) -> dict[str, float]:
    """Average precision for "at least one event" (y >= 1), and the weekly share of events caught by the
    top ``share`` of grids (key ``top10_share`` for share=0.10)."""
    positives = np.asarray(y, dtype=float) >= 1
    return {
        "average_precision": average_precision(scores, positives),
        f"top{round(share * 100)}_share": top_share(scores, counts, week, share),
        "positive_rate": float(positives.mean()) if len(positives) else float("nan"),
    }


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the precision-recall step curve, one step per distinct score (scikit-learn's definition)."""
    scores = _finite(scores, "scores")
    positives = np.asarray(positives, dtype=bool)
    if not positives.any():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    ranked_scores, ranked_positives = scores[order], positives[order]
    threshold_ends = np.r_[ranked_scores[1:] != ranked_scores[:-1], True]
    true_positives = np.cumsum(ranked_positives)[threshold_ends]
    selected = np.flatnonzero(threshold_ends) + 1
    precision = true_positives / selected
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def top_share(scores: np.ndarray, counts: np.ndarray, week: np.ndarray, share: float = 0.10) -> float:
    """Per week, the share of that week's events that fall in the top ``ceil(share * grids)`` grids by
    score; the mean over weeks that have events.

    Tied scores straddling the cut-off count fractionally (each tied grid contributes its events times
    the fraction of the tie that fits), i.e. the expected value under random tie-breaking: deterministic,
    and no scorer gains or loses from row order.
    """
    frame = pd.DataFrame(
        {
            "week": np.asarray(week),
            "score": _finite(scores, "scores"),
            "events": np.asarray(counts, dtype=float),
        }
    )
    if frame["events"].isna().any():
        raise ValueError("counts contain missing values")
    weeks = frame.groupby("week", sort=True).agg(rows=("events", "size"), events=("events", "sum"))
    weeks["slots"] = np.ceil(share * weeks["rows"] - 1e-9)
    ties = (
        frame.groupby(["week", "score"], sort=True)
        .agg(rows=("events", "size"), events=("events", "sum"))
        .reset_index()
        .sort_values(["week", "score"], ascending=[True, False], kind="stable")
    )
    ties["rows_before"] = ties.groupby("week")["rows"].cumsum() - ties["rows"]
    slots = ties["week"].map(weeks["slots"])
    ties["taken"] = np.clip(slots - ties["rows_before"], 0, ties["rows"]) / ties["rows"]
    caught = (ties["events"] * ties["taken"]).groupby(ties["week"]).sum()
    with_events = weeks["events"] > 0
    if not with_events.any():
        return float("nan")
    return float((caught[with_events] / weeks.loc[with_events, "events"]).mean())


def hit_rate(scores: np.ndarray, counts: np.ndarray, share: float) -> float:
    """One week: the share of its events that fall in the top ``ceil(share * units)`` units by score
    (ties at the cut-off counted fractionally, as in :func:`top_share`); nan for a week without events."""
    scores = _finite(scores, "scores")
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    if not len(scores) or total <= 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    ranked_scores, ranked_counts = scores[order], counts[order]
    starts = np.flatnonzero(np.r_[True, ranked_scores[1:] != ranked_scores[:-1]])  # tie blocks
    sizes = np.diff(np.r_[starts, len(scores)])
    events = np.add.reduceat(ranked_counts, starts)
    rows_before = np.cumsum(sizes) - sizes
    slots = np.ceil(share * len(scores) - 1e-9)
    taken = np.clip(slots - rows_before, 0, sizes) / sizes
    return float((events * taken).sum() / total)


def area_share(n_units: int, share: float) -> float:
    """The share of units a top-``share`` list covers: ``ceil(share * n) / n`` (all units equal in area)."""
    return float(np.ceil(share * n_units - 1e-9) / n_units)


def pai(scores: np.ndarray, counts: np.ndarray, share: float) -> float:
    """Predictive accuracy index: hit rate over the area share of the flagged units (1 = no better than
    flagging units at random). Units are taken as equal in area (square cells); for unequal areas
    (municipalities) this is the index per unit flagged, not per km²."""
    return hit_rate(scores, counts, share) / area_share(len(np.asarray(scores)), share)


# ---- probabilities ------------------------------------------------------------------------------------
def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """ECE over ``n_bins`` equal-width bins: sum over bins of (bin share) x |observed rate - mean prob|.

    1-D ``probs``: probability of the positive class, ``y`` 0/1. 2-D ``probs`` (n, n_classes): top-label
    calibration, ``y`` holds class indices.
    """
    confidence, outcome = _binary_view(probs, y)
    if not len(confidence):
        return float("nan")
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    weight = np.bincount(bins, minlength=n_bins)
    mean_confidence = np.bincount(bins, weights=confidence, minlength=n_bins)
    observed = np.bincount(bins, weights=outcome, minlength=n_bins)
    return float(np.abs(observed - mean_confidence).sum() / weight.sum())


def brier(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of the probabilities: 1-D binary (``y`` 0/1) or 2-D multi-class (``y`` indices,
    summed over classes)."""
    probs = np.asarray(probs, dtype=float)
    y = np.asarray(y)
    if probs.ndim == 1:
        return float(np.mean((probs - y.astype(float)) ** 2))
    one_hot = np.zeros_like(probs)
    one_hot[np.arange(len(probs)), y.astype(int)] = 1.0
    return float(np.mean(np.sum((probs - one_hot) ** 2, axis=1)))


def _binary_view(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=float)
    y = np.asarray(y)
    if probs.ndim == 1:
        return probs, y.astype(float)
    return probs.max(axis=1), (probs.argmax(axis=1) == y.astype(int)).astype(float)


def _finite(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contain missing or infinite values")
    return values
