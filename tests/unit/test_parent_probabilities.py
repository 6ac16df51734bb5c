"""A category's probability is a sum of its leaves' probabilities: never above 1, even when the floating
point sum is (the API's schema refuses 1.0000000000000002, which failed whole requests)."""

from __future__ import annotations

import numpy as np

from features.taxonomy import load_taxonomy
from models.text_prediction import describe_probabilities, level_indicator, parent_probabilities


def test_parent_probabilities_are_clipped_to_one() -> None:
    taxonomy = load_taxonomy()
    first_l1 = taxonomy.leaves[0].l1
    classes = [leaf.id for leaf in taxonomy.leaves if leaf.l1 == first_l1][:6]
    assert len(classes) == 6
    probs = np.array([[0.35, 0.2, 0.05, 0.05, 0.15, 0.2]])
    indicator = level_indicator(taxonomy, classes, 1)
    assert indicator.aggregate(probs)[0, 0] > 1.0  # the rounding error this guards against
    assert parent_probabilities(probs, np.array([0]), indicator)[0] == 1.0
    [prediction] = describe_probabilities(probs, np.array(classes), taxonomy, 3, 0.5, 0.5)
    assert 0.0 <= prediction.p_l1 <= 1.0 and 0.0 <= prediction.p_l2 <= 1.0
