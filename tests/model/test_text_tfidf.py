"""TfidfTextClassifier on a tiny keyword-driven taxonomy: learning, hierarchy, review flag, conventions."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from features.taxonomy import Leaf, Taxonomy
from models.text_prediction import describe_probabilities
from models.text_tfidf import TfidfTextClassifier

LEAVES = (
    Leaf("矛盾纠纷", "邻里纠纷", "噪音扰邻纠纷", "社区居委会", "dispute"),
    Leaf("矛盾纠纷", "邻里纠纷", "漏水渗水纠纷", "物业服务企业", "dispute"),
    Leaf("矛盾纠纷", "劳资纠纷", "欠薪纠纷", "人社局", "dispute"),
    Leaf("安全隐患", "消防安全", "楼道堆物", "消防救援站", "hazard"),
    Leaf("安全隐患", "市政设施", "井盖破损", "市政管理部门", "hazard"),
    Leaf("市容环境", "环境卫生", "垃圾堆放", "城市管理局", "none"),
)
KEYWORDS = {
    "噪音扰邻纠纷": [
        "楼上噪音",
        "深夜装修",
        "广场舞音响",
        "狗叫扰民",
        "电钻声",
        "吵得睡不着",
        "唱歌很吵",
        "跺脚声",
    ],
    "漏水渗水纠纷": [
        "天花板漏水",
        "卫生间渗水",
        "墙面发霉",
        "水管爆裂",
        "楼上渗漏",
        "水滴下来",
        "防水层坏",
        "积水泡坏",
    ],
    "欠薪纠纷": [
        "拖欠工资",
        "老板跑路",
        "包工头欠薪",
        "工钱没发",
        "讨要薪水",
        "三个月工资",
        "劳务费拖欠",
        "工人讨薪",
    ],
    "楼道堆物": [
        "楼道堆放杂物",
        "电动车充电",
        "纸箱堵通道",
        "消防通道堵塞",
        "楼梯间堆柴",
        "旧家具占道",
        "飞线充电",
        "安全出口堵",
    ],
    "井盖破损": [
        "井盖破损",
        "井盖丢失",
        "路面塌陷",
        "下水道盖松动",
        "窨井盖翘起",
        "雨水篦子坏",
        "路面坑洞",
        "井口没盖",
    ],
    "垃圾堆放": [
        "垃圾成堆",
        "建筑垃圾",
        "垃圾桶满溢",
        "乱扔垃圾",
        "臭味熏人",
        "垃圾没人清",
        "废品乱堆",
        "苍蝇很多",
    ],
}
PLACES = ["幸福小区3栋", "和平路12号", "东城社区", "阳光花园", "老街菜市场旁", "滨河路口", "学府苑二期"]
ASKS = ["请尽快处理。", "希望社区协调。", "麻烦派人看看。", "已经反映多次了。", "居民很有意见。"]


def sentences(n_per_leaf: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for leaf in LEAVES:
        for _ in range(n_per_leaf):
            words = rng.choice(KEYWORDS[leaf.l3], size=2, replace=False)
            texts.append(f"{rng.choice(PLACES)}{words[0]}，{words[1]}，{rng.choice(ASKS)}")
            labels.append(leaf.id)
    return texts, labels


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy("tiny", "1", LEAVES)


@pytest.fixture(scope="module")
def fitted(taxonomy: Taxonomy) -> TfidfTextClassifier:
    texts, labels = sentences(30, seed=0)
    return TfidfTextClassifier(taxonomy=taxonomy).fit(texts, labels)


@pytest.fixture(scope="module")
def held_out() -> tuple[list[str], list[str]]:
    return sentences(10, seed=1)


def test_learns_leaves_on_held_out_sentences(fitted, held_out):
    texts, labels = held_out
    accuracy = np.mean(fitted.predict(texts) == np.array(labels, dtype=object))
    assert accuracy >= 0.9


def test_predict_proba_is_a_distribution_over_sorted_leaves(fitted, held_out, taxonomy):
    probs = fitted.predict_proba(held_out[0])
    assert probs.shape == (len(held_out[0]), len(LEAVES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert list(fitted.classes_) == sorted(taxonomy.leaf_ids)
    np.testing.assert_array_equal(fitted.predict(held_out[0]), fitted.classes_[probs.argmax(axis=1)])


def test_describe_is_hierarchically_consistent(fitted, held_out, taxonomy):
    texts = held_out[0]
    probs = fitted.predict_proba(texts)
    predictions = fitted.describe(texts, top_k=3)
    classes = list(fitted.classes_)
    for row, prediction in enumerate(predictions):
        leaf = taxonomy.leaf(prediction.leaf_id)
        assert (prediction.category_l1, prediction.category_l2, prediction.category_l3) == (
            leaf.l1,
            leaf.l2,
            leaf.l3,
        )
        assert (prediction.department, prediction.risk_group) == (leaf.department, leaf.risk_group)
        same_l1 = [i for i, c in enumerate(classes) if taxonomy.leaf(c).l1 == leaf.l1]
        same_l2 = [
            i
            for i, c in enumerate(classes)
            if taxonomy.leaf(c).l1 == leaf.l1 and taxonomy.leaf(c).l2 == leaf.l2
        ]
        assert prediction.p_l1 == pytest.approx(probs[row, same_l1].sum())
        assert prediction.p_l2 == pytest.approx(probs[row, same_l2].sum())
        assert prediction.p_l3 == pytest.approx(probs[row].max())
        assert prediction.p_l1 >= prediction.p_l2 >= prediction.p_l3
        alternatives = prediction.alternatives
        assert len(alternatives) == 3 and alternatives[0].leaf_id == prediction.leaf_id
        assert [a.probability for a in alternatives] == sorted(
            (a.probability for a in alternatives), reverse=True
        )


def test_needs_review_follows_the_threshold(fitted, held_out, taxonomy):
    texts = held_out[0]
    assert all(p.needs_review for p in fitted.describe(texts, review_threshold=1.01))
    assert not any(p.needs_review for p in fitted.describe(texts, review_threshold=0.0))
    strict = TfidfTextClassifier(taxonomy=taxonomy, review_threshold=1.01).fit(*sentences(10, seed=5))
    assert all(p.needs_review for p in strict.describe(texts[:3]))


def test_describe_from_hand_made_probabilities(taxonomy):
    classes = [leaf.id for leaf in LEAVES]
    probs = np.array([[0.30, 0.25, 0.05, 0.20, 0.15, 0.05]])
    (prediction,) = describe_probabilities(probs, classes, taxonomy, top_k=2, review_threshold=0.5)
    assert prediction.leaf_id == "矛盾纠纷/邻里纠纷/噪音扰邻纠纷"
    assert prediction.p_l1 == pytest.approx(0.60)
    assert prediction.p_l2 == pytest.approx(0.55)
    assert prediction.p_l3 == pytest.approx(0.30)
    assert prediction.needs_review
    assert [a.category_l3 for a in prediction.alternatives] == ["噪音扰邻纠纷", "漏水渗水纠纷"]


def test_flat_seven_class_taxonomy():
    names = ["城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "环境保护", "卫生计生", "交通运输"]
    flat = Taxonomy("flat7", "1", tuple(Leaf(n, n, n, f"{n}部门", "none") for n in names))
    rng = np.random.default_rng(3)
    texts = [
        f"关于{name}的问题{rng.integers(1000)}号，{name}方面需要处理" for name in names for _ in range(12)
    ]
    labels = [name for name in names for _ in range(12)]
    model = TfidfTextClassifier(taxonomy=flat).fit(texts, labels)
    predictions = model.describe(["关于教育文体的问题，教育文体方面需要处理"])
    assert predictions[0].leaf_id == "教育文体"
    assert (
        predictions[0].category_l1 == predictions[0].category_l2 == predictions[0].category_l3 == "教育文体"
    )
    assert predictions[0].p_l1 == pytest.approx(predictions[0].p_l3)


def test_normalisation_and_redaction_happen_inside(fitted):
    probs = fitted.predict_proba(
        [
            "幸福小区楼上噪音,深夜装修,电话13812345678",
            "幸福小区楼上噪音，深夜装修，电话13987654321",
        ]
    )
    np.testing.assert_allclose(probs[0], probs[1])


def test_sklearn_conventions(fitted, taxonomy):
    params = fitted.get_params()
    assert params["taxonomy"] is taxonomy and params["C"] == 0.5
    copy = clone(fitted)
    assert not hasattr(copy, "pipeline_")
    assert copy.set_params(C=2.0).C == 2.0 and fitted.C == 0.5


def test_rejects_labels_outside_the_taxonomy(taxonomy):
    texts, labels = sentences(5, seed=2)
    labels[0] = "矛盾纠纷/不存在"
    with pytest.raises(ValueError, match="not in taxonomy"):
        TfidfTextClassifier(taxonomy=taxonomy).fit(texts, labels)


def test_requires_a_taxonomy():
    texts, labels = sentences(5, seed=2)
    with pytest.raises(ValueError, match="Taxonomy"):
        TfidfTextClassifier().fit(texts, labels)


def test_rare_leaves_reduce_calibration_folds_or_fail(taxonomy):
    texts, labels = sentences(10, seed=4)
    rare = LEAVES[0].id
    keep = [i for i, label in enumerate(labels) if label != rare] + [
        labels.index(rare),
        labels.index(rare) + 1,
    ]
    model = TfidfTextClassifier(taxonomy=taxonomy).fit([texts[i] for i in keep], [labels[i] for i in keep])
    assert model.calibration_cv_ == 2
    with pytest.raises(ValueError, match="single training example"):
        TfidfTextClassifier(taxonomy=taxonomy).fit(
            [texts[i] for i in keep[:-1]], [labels[i] for i in keep[:-1]]
        )


def test_pickle_round_trip_keeps_probabilities(fitted, held_out):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(held_out[0]), fitted.predict_proba(held_out[0]))
    assert restored.taxonomy_.fingerprint == fitted.taxonomy_.fingerprint


def test_pyfunc_round_trip(fitted, held_out, tmp_path):
    import mlflow

    from models.pyfunc import TextClassifierModel, save_text_model

    frame = pd.DataFrame({"title": ["楼道隐患", None, ""], "text": held_out[0][:3]})
    expected = TextClassifierModel.predict_with(fitted, frame)
    loaded = mlflow.pyfunc.load_model(str(save_text_model(fitted, tmp_path / "text-model")))
    result = loaded.predict(frame)
    pd.testing.assert_frame_equal(result, expected)
    assert list(result.columns) == [
        "leaf_id",
        "category_l1",
        "category_l2",
        "category_l3",
        "probability",
        "department",
        "risk_group",
        "needs_review",
    ]
    assert result.loc[1, "leaf_id"] == fitted.predict([held_out[0][1]])[0]
    without_title = loaded.predict(frame[["text"]])  # the signature makes the title optional
    np.testing.assert_array_equal(without_title["leaf_id"].to_numpy(), fitted.predict(frame["text"]))


def test_keeps_one_float32_svm_whatever_the_calibration_folds(fitted):
    calibrated = fitted.pipeline_.named_steps["classifier"]
    assert len(calibrated.calibrated_classifiers_) == 1
    svm = calibrated.calibrated_classifiers_[0].estimator
    assert svm.coef_.dtype == np.float32 and svm.intercept_.dtype == np.float32
    assert svm.coef_.shape == (len(fitted.classes_), fitted.vocabulary_size_)


def test_sklearn_vectorizer_learns_the_same_task(taxonomy, held_out):
    texts, labels = sentences(30, seed=0)
    model = TfidfTextClassifier(taxonomy=taxonomy, vectorizer="sklearn").fit(texts, labels)
    assert np.mean(model.predict(held_out[0]) == np.asarray(held_out[1])) >= 0.9


def test_unknown_vectorizer_is_refused(taxonomy):
    with pytest.raises(ValueError, match="vectorizer"):
        TfidfTextClassifier(taxonomy=taxonomy, vectorizer="jieba").fit(*sentences(5, seed=2))


def test_lead_block_is_optional_and_weighted(taxonomy, held_out):
    texts, labels = sentences(30, seed=0)
    plain = TfidfTextClassifier(taxonomy=taxonomy, lead_weight=0.0).fit(texts, labels)
    led = TfidfTextClassifier(taxonomy=taxonomy, lead_weight=0.5).fit(texts, labels)
    assert plain.vocabulary_size_ < led.vocabulary_size_  # the lead block adds its own columns
    union = led.pipeline_.named_steps["tfidf"]
    assert union.transformer_weights == {"lead": 0.5}
    assert np.mean(led.predict(held_out[0]) == np.asarray(held_out[1])) >= 0.9
