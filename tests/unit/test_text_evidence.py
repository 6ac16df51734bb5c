"""Multi-label answers and occlusion evidence, on hand-made probabilities and a keyword 'model'."""

from __future__ import annotations

import numpy as np
import pytest

from features.taxonomy import Leaf, Taxonomy
from models.text_evidence import occlusion_evidence, text_spans
from models.text_prediction import report_labels

TAXONOMY = Taxonomy(
    "t",
    "1",
    (
        Leaf("城市管理", "市容秩序", "占道经营", "城管", "none"),
        Leaf("城市管理", "噪音扰民", "社会生活噪音", "城管", "none"),
        Leaf("安全隐患", "燃气安全", "燃气泄漏", "燃气公司", "hazard"),
    ),
)
CLASSES = [leaf.id for leaf in TAXONOMY.leaves]


def test_every_leaf_above_the_threshold_primary_first():
    probs = np.array([[0.35, 0.55, 0.10], [0.90, 0.06, 0.04], [0.20, 0.25, 0.55]])
    answers = report_labels(probs, CLASSES, TAXONOMY, threshold=0.3)
    assert [[a.category_l3 for a in row] for row in answers] == [
        ["社会生活噪音", "占道经营"],
        ["占道经营"],
        ["燃气泄漏"],
    ]
    assert answers[0][0].probability == 0.55 and answers[0][0].department == "城管"


def test_the_primary_leaf_is_returned_even_below_the_threshold():
    answers = report_labels(np.array([[0.2, 0.3, 0.5]]), CLASSES, TAXONOMY, threshold=0.9)
    assert [a.category_l3 for a in answers[0]] == ["燃气泄漏"]


def test_spans_cover_clauses_and_split_long_ones():
    text = "楼道里闻到煤气味，请尽快处理。谢谢"
    spans = text_spans(text, max_spans=6)
    pieces = [text[start:end] for start, end in spans]
    assert pieces == ["楼道里闻", "到煤气味", "请尽快处理", "谢谢"]  # 5 characters are not cut into 2 + 3
    assert len(text_spans(text, max_spans=2)) == 2
    assert text_spans(text, max_spans=12, max_chars=8)[-1][1] <= 8


def _keyword_model(texts):
    """P(gas) is high while '煤气' is in the text."""
    probs = np.full((len(texts), 3), 0.1)
    probs[:, 2] = [0.8 if "煤气" in text else 0.1 for text in texts]
    probs[:, 0] = 1 - probs[:, 1] - probs[:, 2]
    return probs


def test_occlusion_names_the_phrase_that_carries_the_decision():
    evidence = occlusion_evidence(["楼道里闻到煤气味，请尽快处理，谢谢"], _keyword_model, CLASSES, top_n=2)[0]
    assert len(evidence) == 1  # only the gas clause matters; its two halves are joined again
    assert "煤气" in evidence[0].phrase and evidence[0].phrase in "楼道里闻到煤气味"
    assert evidence[0].weight > 0.5


def test_phrases_that_barely_move_the_probability_are_not_evidence():
    def nearly_flat(texts):
        probs = np.full((len(texts), 3), 0.2)
        probs[:, 2] = [0.6 if "煤气" in text else 0.595 for text in texts]
        probs[:, 0] = 1 - probs[:, 1] - probs[:, 2]
        return probs

    text = "楼道里闻到煤气味，请尽快处理"
    assert occlusion_evidence([text], nearly_flat, CLASSES, min_weight=0.01) == [()]
    assert occlusion_evidence([text], nearly_flat, CLASSES, min_weight=0.001)[0]


def test_redundant_clauses_are_each_evidence():
    """Either clause alone makes the gas leaf likely, so removing one changes nothing: the phrase still
    counts because on its own it carries the decision."""

    def either_clause(texts):
        probs = np.full((len(texts), 3), 0.1)
        probs[:, 2] = [0.8 if ("杂物" in text or "消防" in text) else 0.1 for text in texts]
        probs[:, 0] = 1 - probs[:, 1] - probs[:, 2]
        return probs

    text = "楼道里堆满杂物，消防通道被堵死了，你好"
    evidence = occlusion_evidence([text], either_clause, CLASSES, top_n=3)[0]
    phrases = [item.phrase for item in evidence]
    assert any("杂物" in phrase for phrase in phrases) and any("消防" in phrase for phrase in phrases)
    assert all("你好" not in phrase for phrase in phrases)
    assert all(item.weight == pytest.approx(0.7) for item in evidence)
