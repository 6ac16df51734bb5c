"""TransformerTextClassifier on a tiny random-init BERT (the Plan B path: any local checkpoint dir)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from features.taxonomy import load_taxonomy
from models.persistence import load_estimator, save_estimator
from models.text_transformer import TransformerTextClassifier

pytestmark = pytest.mark.slow  # loads models or MLflow: `make test-fast` skips it

torch = pytest.importorskip("torch")

# Three leaves with disjoint vocabularies, so a tiny model can learn them in a second.
KEYWORDS = {
    ("安全隐患", "燃气安全", "燃气泄漏"): ["煤气味", "燃气泄漏", "液化气漏", "闻到煤气", "燃气管道"],
    ("矛盾纠纷", "邻里纠纷", "噪音扰邻纠纷"): ["邻居吵架", "半夜吵闹", "楼上噪音", "跺脚声", "摔东西"],
    ("城市管理", "市容秩序", "占道经营"): ["占道摆摊", "流动摊贩", "卖水果摊", "路边摊位", "烧烤摊"],
}
FILLERS = ["小区里", "3号楼", "网格员反映", "市民来电", "最近几天", "请尽快处理", "已经好几次了", "晚上"]


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


@pytest.fixture(scope="module")
def toy_reports(taxonomy):
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for path, words in KEYWORDS.items():
        leaf = taxonomy.find(*path).id
        for i in range(40):
            before, after = rng.choice(FILLERS, size=2, replace=False)
            texts.append(f"{before}{words[i % len(words)]}，{after}")
            labels.append(leaf)
    return texts, labels


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, toy_reports, tiny_bert_builder):
    texts = toy_reports[0] + ["电话<PHONE>", "你好"]
    return tiny_bert_builder(tmp_path_factory.mktemp("tiny_bert"), texts)


@pytest.fixture(scope="module")
def fitted(taxonomy, tiny_dir, toy_reports):
    texts, labels = toy_reports
    model = TransformerTextClassifier(
        taxonomy=taxonomy,
        encoder_dir=tiny_dir,
        epochs=8,
        batch_size=8,
        learning_rate=2e-3,
        head_learning_rate=5e-3,
        max_length=32,
        calibration_share=0.15,
        random_state=0,
    )
    return model.fit(texts, labels)


def test_learns_a_separable_task_and_predicts_leaf_probabilities(fitted, toy_reports):
    texts, labels = toy_reports
    probs = fitted.predict_proba(texts)
    assert probs.shape == (len(texts), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert list(fitted.classes_) == sorted(set(labels))
    assert np.mean(fitted.predict(texts) == np.asarray(labels)) >= 0.9
    assert fitted.training_["steps"] == fitted.training_["planned_steps"] > 0


def test_temperature_is_fitted_and_reliability_recorded(fitted):
    calibration = fitted.calibration_
    assert calibration["rows"] == round(120 * 0.15)
    assert 0.05 <= fitted.temperature_ <= 20
    assert 0 <= calibration["ece_after"] <= 1 and 0 <= calibration["ece_before"] <= 1


def test_hierarchy_is_consistent_l3_always_under_the_predicted_l2(fitted, taxonomy, toy_reports):
    texts = toy_reports[0][::7] + ["完全无关的一句话", ""]
    for prediction in fitted.describe(texts, top_k=3):
        leaf = taxonomy.find(prediction.category_l1, prediction.category_l2, prediction.category_l3)
        assert leaf is not None and leaf.id == prediction.leaf_id
        assert prediction.p_l1 + 1e-9 >= prediction.p_l2 >= prediction.p_l3 - 1e-9
        assert prediction.department == leaf.department and prediction.risk_group == leaf.risk_group


def test_needs_review_below_the_threshold(fitted, toy_reports):
    texts = toy_reports[0][:10]
    confidence = fitted.predict_proba(texts).max(axis=1)
    threshold = float(np.median(confidence))
    flags = [p.needs_review for p in fitted.describe(texts, review_threshold=threshold)]
    assert flags == list(confidence < threshold)
    assert all(p.needs_review for p in fitted.describe(texts, review_threshold=1.01))


def test_phone_numbers_are_redacted_before_the_model_sees_them(fitted):
    a = fitted.predict_proba(["燃气泄漏，联系电话13812345678"])
    b = fitted.predict_proba(["燃气泄漏，联系电话139 8765 4321"])
    np.testing.assert_array_equal(a, b)


def test_round_trip_through_joblib_predicts_the_same(fitted, toy_reports, tmp_path):
    path = save_estimator(fitted, tmp_path / "model.joblib")
    loaded = load_estimator(path)
    texts = toy_reports[0][:20]
    np.testing.assert_allclose(loaded.predict_proba(texts), fitted.predict_proba(texts), rtol=1e-5, atol=1e-6)
    assert loaded.get_params()["encoder_dir"] == fitted.encoder_dir
    assert hasattr(fitted, "module_")  # pickling did not strip the live model


def test_int8_quantised_model_pickles_and_stays_close(taxonomy, tiny_dir, toy_reports):
    texts, labels = toy_reports
    model = TransformerTextClassifier(
        taxonomy=taxonomy, encoder_dir=tiny_dir, epochs=1, max_length=32, quantize=True
    ).fit(texts, labels)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_proba(texts[:10]), model.predict_proba(texts[:10]), atol=1e-6)
    assert isinstance(model.module_.head, torch.ao.nn.quantized.dynamic.Linear)


def test_layers_are_truncated_and_the_time_budget_stops_training(taxonomy, tiny_dir, toy_reports):
    texts, labels = toy_reports
    model = TransformerTextClassifier(
        taxonomy=taxonomy,
        encoder_dir=tiny_dir,
        num_layers=1,
        epochs=50,
        max_train_minutes=0.0,
        calibration_share=0.0,
    ).fit(texts, labels)
    assert model.encoder_config_["num_hidden_layers"] == 1
    assert len(model.module_.encoder.encoder.layer) == 1
    assert model.training_["steps"] == 1 and model.training_["stopped_by_budget"]
    assert model.calibration_ == {"rows": 0} and model.temperature_ == 1.0


def test_compound_reports_train_towards_both_leaves_and_labels_lists_them(taxonomy, tiny_dir, toy_reports):
    texts, labels = toy_reports
    gas, noise = taxonomy.find(*list(KEYWORDS)[0]).id, taxonomy.find(*list(KEYWORDS)[1]).id
    compound = [f"闻到煤气味，还有邻居吵架{i}" for i in range(30)]
    model = TransformerTextClassifier(
        taxonomy=taxonomy,
        encoder_dir=tiny_dir,
        epochs=8,
        batch_size=8,
        learning_rate=2e-3,
        head_learning_rate=5e-3,
        max_length=32,
        calibration_share=0.0,
        secondary_weight=0.4,
    ).fit(texts + compound, labels + [gas] * 30, [None] * len(texts) + [noise] * 30)
    answer = model.labels(["闻到煤气味，还有邻居吵架"], threshold=0.2)[0]
    assert [label.leaf_id for label in answer][:2] == [gas, noise]
    single = model.labels(["占道摆摊，请尽快处理"], threshold=0.2)[0]
    assert len(single) == 1


def test_evidence_phrases_come_from_the_report(fitted):
    text = "市民来电，3号楼闻到煤气味，请尽快处理"
    evidence = fitted.evidence([text], top_n=2)[0]
    assert 1 <= len(evidence) <= 2
    assert all(item.phrase in text and item.weight > 0 for item in evidence)


def test_unknown_labels_and_single_strings_are_rejected(taxonomy, tiny_dir):
    model = TransformerTextClassifier(taxonomy=taxonomy, encoder_dir=tiny_dir)
    with pytest.raises(ValueError, match="not in taxonomy"):
        model.fit(["a", "b"], ["no/such", "leaf"])
    with pytest.raises(TypeError):
        model.fit("one string", ["x"])
