"""Metrics against hand-computed examples (and scikit-learn where it defines the same quantity)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from features.taxonomy import Leaf, Taxonomy
from models.scoring import (
    average_precision,
    brier,
    expected_calibration_error,
    macro_f1,
    risk_metrics,
    text_metrics,
    top_share,
)


def three_weeks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Week 1: 10 grids, 4 events, the top grid has 2. Week 2: no events. Week 3: 20 grids (2 slots),
    6 events: the top grid has 1, a three-way tie for the second slot holds 3."""
    scores = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0] + [1] * 10 + [5, 3, 3, 3] + [0] * 16
    counts = [2, 0, 0, 1, 0, 0, 0, 0, 1, 0] + [0] * 10 + [1, 3, 0, 0, 2] + [0] * 15
    weeks = [1] * 10 + [2] * 10 + [3] * 20
    return np.array(scores, dtype=float), np.array(counts), np.array(weeks)


def test_top_share_by_hand():
    scores, counts, weeks = three_weeks()
    # week 1: 2/4; week 2 skipped; week 3: (1 + 3 * 1/3) / 6
    assert top_share(scores, counts, weeks, share=0.10) == pytest.approx((0.5 + 1 / 3) / 2)


def test_top_share_ignores_row_order_and_reaches_one_with_every_grid():
    scores, counts, weeks = three_weeks()
    order = np.random.default_rng(0).permutation(len(scores))
    assert top_share(scores[order], counts[order], weeks[order]) == pytest.approx(
        top_share(scores, counts, weeks)
    )
    assert top_share(scores, counts, weeks, share=1.0) == pytest.approx(1.0)


def test_top_share_of_a_constant_score_is_the_share():
    counts = np.array([5, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert top_share(np.zeros(10), counts, np.zeros(10)) == pytest.approx(0.1)


def test_top_share_without_events_is_nan():
    assert np.isnan(top_share(np.arange(5.0), np.zeros(5), np.zeros(5)))


def test_average_precision_by_hand_and_against_sklearn():
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 5, size=300).astype(float)  # many ties
    positives = rng.random(300) < 0.2 + 0.1 * scores
    assert average_precision(scores, positives) == pytest.approx(average_precision_score(positives, scores))


def test_risk_metrics_counts_any_event_as_positive():
    scores, counts, weeks = three_weeks()
    result = risk_metrics(scores, counts, counts, weeks)
    assert set(result) == {"average_precision", "top10_share", "positive_rate"}
    assert result["positive_rate"] == pytest.approx(6 / 40)
    assert result["average_precision"] == pytest.approx(average_precision_score(counts >= 1, scores))


def test_expected_calibration_error_binary_and_top_label():
    assert expected_calibration_error(
        np.array([0.1, 0.1, 0.9, 0.9]), np.array([0, 1, 1, 1])
    ) == pytest.approx(0.25)
    probs = np.array([[0.7, 0.3], [0.6, 0.4]])
    assert expected_calibration_error(probs, np.array([0, 1])) == pytest.approx(0.5 * 0.3 + 0.5 * 0.6)
    assert expected_calibration_error(np.array([1.0, 0.0]), np.array([1, 0])) == pytest.approx(0.0)


def test_brier_binary_and_multiclass():
    assert brier(np.array([0.2, 0.8]), np.array([0, 1])) == pytest.approx(0.04)
    assert brier(np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([0, 0])) == pytest.approx(0.25)


def test_text_metrics_derive_parent_levels_from_the_taxonomy():
    taxonomy = Taxonomy(
        "t",
        "1",
        (
            Leaf("A", "a1", "x", "d", "none"),
            Leaf("A", "a1", "y", "d", "none"),
            Leaf("A", "a2", "z", "d", "none"),
            Leaf("B", "b", "w", "d", "none"),
        ),
    )
    y_true = ["A/a1/x", "A/a1/y", "A/a2/z", "B/b/w"]
    y_pred = ["A/a1/y", "A/a1/y", "B/b/w", "B/b/w"]
    result = text_metrics(y_true, y_pred, taxonomy)
    assert result["accuracy_leaf"] == pytest.approx(0.5)
    assert result["macro_f1_leaf"] == pytest.approx((0 + 2 / 3 + 0 + 2 / 3) / 4)
    assert result["accuracy_l2"] == pytest.approx(0.75)
    assert result["macro_f1_l2"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert result["accuracy_l1"] == pytest.approx(0.75)
    assert result["macro_f1_l1"] == pytest.approx((4 / 5 + 2 / 3) / 2)


def test_text_metrics_reject_unknown_leaves():
    taxonomy = Taxonomy("t", "1", (Leaf("A", "A", "A", "d", "none"), Leaf("B", "B", "B", "d", "none")))
    with pytest.raises(KeyError):
        text_metrics(["A"], ["C"], taxonomy)


def test_macro_f1_matches_sklearn():
    rng = np.random.default_rng(2)
    y_true = rng.choice(list("abcde"), size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.choice(list("abcdef"), size=200))
    assert macro_f1(y_true, y_pred) == pytest.approx(f1_score(y_true, y_pred, average="macro"))
