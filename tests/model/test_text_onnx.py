"""ONNX Runtime export of a fitted transformer classifier (skipped without onnxruntime/onnx)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from features.taxonomy import load_taxonomy
from models.text_transformer import TransformerTextClassifier

pytestmark = pytest.mark.slow  # loads models or MLflow: `make test-fast` skips it

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

TEXTS = {
    ("安全隐患", "燃气安全", "燃气泄漏"): ["闻到煤气味", "燃气泄漏了", "液化气漏气"],
    ("矛盾纠纷", "邻里纠纷", "噪音扰邻纠纷"): ["邻居半夜吵架", "楼上摔东西", "半夜吵闹"],
}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tiny_bert_builder):
    taxonomy = load_taxonomy()
    texts, labels = [], []
    for path, examples in TEXTS.items():
        for i in range(12):
            texts.append(f"{examples[i % 3]}，第{i}次")
            labels.append(taxonomy.find(*path).id)
    encoder = tiny_bert_builder(tmp_path_factory.mktemp("tiny"), texts)
    model = TransformerTextClassifier(taxonomy=taxonomy, encoder_dir=encoder, epochs=1, max_length=32)
    return model.fit(texts, labels), texts


@pytest.mark.parametrize("quantize", [False, True])
def test_onnx_twin_matches_torch_and_pickles(fitted, quantize):
    from models.text_onnx import OnnxTextClassifier

    model, texts = fitted
    twin = OnnxTextClassifier.from_transformer(model, quantize=quantize)
    expected = model.predict_proba(texts)
    got = twin.predict_proba(texts)
    np.testing.assert_allclose(got, expected, atol=1e-2 if quantize else 1e-5)
    restored = pickle.loads(pickle.dumps(twin))
    np.testing.assert_allclose(restored.predict_proba(texts), got, atol=1e-3)
    assert [p.leaf_id for p in twin.describe(texts[:3])] == list(twin.predict(texts[:3]))
