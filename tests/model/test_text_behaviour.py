"""Behavioural tests (invariance, direction, minimum functionality, review flag, multi-label, cascade
routing) on text classifiers trained here on a small demo city's reports."""

from __future__ import annotations

import numpy as np
import pytest

from features.taxonomy import load_taxonomy
from features.text import join_title_text
from models.text_cascade import CascadeTextClassifier
from models.text_prediction import report_labels
from models.text_tfidf import TfidfTextClassifier

pytestmark = pytest.mark.slow  # loads models or MLflow: `make test-fast` skips it

MINIMUM_FUNCTIONALITY = {
    "矛盾纠纷": "公司拖欠我三个月工资不发，老板电话也打不通",
    "安全隐患": "楼道里有人飞线给电动车充电，电线从窗户拉下来很危险",
    "社会治安": "我的电动车昨晚在小区车棚里被人偷了",
    "城市管理": "小区门口有人占道摆摊卖水果，行人只能走机动车道",
    "生态环境": "工厂往河里直排污水，河水发黑发臭",
    "交通出行": "路口的红绿灯坏了好几天，车辆乱闯",
    "市场监管与食品安全": "超市卖过期变质的牛奶，孩子喝了拉肚子",
    "社会保障": "想申请低保，需要准备哪些材料",
    "养老托育": "家里老人行动不便，社区有没有老年助餐服务",
    "医疗卫生": "社区卫生服务中心什么时候可以打疫苗",
    "教育服务": "孩子今年上小学，学位申请怎么办理",
    "就业创业": "失业了想参加职业技能培训，去哪里报名",
    "政策咨询": "住房公积金怎么提取，需要什么手续",
    "基础设施与公用事业": "小区从早上开始停水，到现在都没来水",
    "住房与社区": "我们老小区想加装电梯，怎么申请",
    "其他": "感谢社区网格员热心帮忙，特此表扬",
}


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


@pytest.fixture(scope="module")
def reports(demo_reports):
    texts = [join_title_text(title, text) for title, text in demo_reports.select("title", "text").iter_rows()]
    return texts, demo_reports.get_column("label").to_list()


@pytest.fixture(scope="module")
def tfidf(taxonomy, reports):
    texts, labels = reports
    return TfidfTextClassifier(taxonomy=taxonomy).fit(texts, labels)


def _l1(model, texts):
    return [p.category_l1 for p in model.describe(texts)]


def test_demo_city_has_every_first_level_category(demo_reports, taxonomy):
    assert set(demo_reports.get_column("l1")) == set(taxonomy.level1)


@pytest.mark.parametrize(
    ("plain", "variant"),
    [
        ("楼上邻居天天半夜吵架，摔东西的声音很大", "楼上邻居  天天半夜吵架 ，  摔东西的声音很大 "),
        ("小区门口有人占道摆摊卖水果，行人只能走机动车道", "小区门口有人占道摆摊卖水果,行人只能走机动车道"),
        ("饭店油烟直接排到居民楼！窗户都不敢开", "饭店油烟直接排到居民楼!窗户都不敢开"),
        (
            "3号楼电动车在楼道里充电，很危险，电话13812345678",
            "3号楼电动车在楼道里充电，很危险，电话13987654321",
        ),
        ("公司拖欠工资不发，联系电话13912345678", "公司拖欠工资不发，联系电话<PHONE>"),
    ],
)
def test_label_is_invariant_to_whitespace_punctuation_width_and_phone_numbers(tfidf, plain, variant):
    assert tfidf.predict([plain])[0] == tfidf.predict([variant])[0]
    np.testing.assert_allclose(tfidf.predict_proba([plain]), tfidf.predict_proba([variant]), atol=0.05)


@pytest.mark.parametrize(
    ("text", "risk_group"),
    [("楼道里闻到很重的煤气味", "hazard"), ("楼上邻居天天半夜吵架", "dispute")],
)
def test_direction_gas_smell_is_a_hazard_and_quarrels_a_dispute(tfidf, text, risk_group):
    assert tfidf.describe([text])[0].risk_group == risk_group


def test_minimum_functionality_one_clear_sentence_per_first_level_category(tfidf, taxonomy):
    assert set(MINIMUM_FUNCTIONALITY) == set(taxonomy.level1)
    predicted = dict(
        zip(MINIMUM_FUNCTIONALITY, _l1(tfidf, list(MINIMUM_FUNCTIONALITY.values())), strict=True)
    )
    wrong = {expected: got for expected, got in predicted.items() if got != expected}
    assert not wrong


def test_needs_review_exactly_below_the_threshold(tfidf):
    texts = ["楼道里闻到很重的煤气味", "你好", "路灯", "小区门口占道经营还噪音扰民"]
    probabilities = [p.p_l3 for p in tfidf.describe(texts)]
    threshold = float(np.median(probabilities))
    flags = [p.needs_review for p in tfidf.describe(texts, review_threshold=threshold)]
    assert flags == [p < threshold for p in probabilities]
    assert any(flags) and not all(flags)


def test_compound_report_gets_both_categories_primary_first(tfidf, taxonomy):
    text = "小区门口一到晚上就有人占道摆摊卖烧烤，音响放得震天响，噪音吵得人睡不着"
    probs = tfidf.predict_proba([text])
    labels = report_labels(probs, tfidf.classes_, taxonomy, threshold=0.1)[0]
    l3s = [label.category_l3 for label in labels]
    assert len(l3s) >= 2
    assert "占道经营" in l3s and any("噪音" in name for name in l3s)
    assert [label.probability for label in labels] == sorted(
        (label.probability for label in labels), reverse=True
    )


def test_describe_returns_the_multi_label_answer(tfidf, taxonomy):
    text = "小区门口一到晚上就有人占道摆摊卖烧烤，音响放得震天响，噪音吵得人睡不着"
    prediction = tfidf.describe([text], label_threshold=0.1)[0]
    expected = report_labels(tfidf.predict_proba([text]), tfidf.classes_, taxonomy, threshold=0.1)[0]
    assert prediction.labels == expected and len(prediction.labels) >= 2
    assert prediction.labels[0].leaf_id == prediction.leaf_id
    assert len(tfidf.describe([text], label_threshold=0.99)[0].labels) == 1


def test_evidence_names_the_phrase_behind_a_hazard(tfidf):
    text = "您好，我是三号楼的住户，楼道里闻到很重的煤气味，麻烦尽快派人来看看，谢谢"
    evidence = tfidf.evidence([text], top_n=2)[0]
    assert evidence and "煤气" in evidence[0].phrase
    assert evidence[0].weight > 0 and all(phrase.phrase in text for phrase in evidence)


class _ConstantModel:
    """A 'strong' model that always answers one leaf with certainty (to see where rows went)."""

    def __init__(self, classes, taxonomy, leaf):
        self.classes_ = np.asarray(classes, dtype=object)[::-1]  # another column order than the fast model
        self.taxonomy_ = taxonomy
        self.leaf = leaf
        self.calls = 0

    def predict_proba(self, texts):
        self.calls += len(texts)
        probs = np.zeros((len(texts), len(self.classes_)))
        probs[:, list(self.classes_).index(self.leaf)] = 1.0
        return probs


def test_cascade_sends_only_unconfident_reports_to_the_strong_model(tfidf, taxonomy, reports):
    texts = reports[0][:200]
    leaf = taxonomy.find("其他", "其他", "其他事项").id
    strong = _ConstantModel(tfidf.classes_, taxonomy, leaf)
    fast_probs = tfidf.predict_proba(texts)
    threshold = float(np.quantile(fast_probs.max(axis=1), 0.3))
    cascade = CascadeTextClassifier.from_fitted(tfidf, strong, confidence_threshold=threshold)

    routed = cascade.route(texts)

    expected = fast_probs.max(axis=1) < threshold
    np.testing.assert_array_equal(routed.to_strong, expected)
    assert 0 < strong.calls == expected.sum() < len(texts)
    np.testing.assert_allclose(routed.probabilities[~expected], fast_probs[~expected])
    assert set(cascade.predict(texts)[expected]) == {leaf}


def test_cascade_blend_mixes_both_models_on_routed_rows(tfidf, taxonomy, reports):
    texts = reports[0][:50]
    leaf = taxonomy.find("其他", "其他", "其他事项").id
    cascade = CascadeTextClassifier.from_fitted(
        tfidf, _ConstantModel(tfidf.classes_, taxonomy, leaf), confidence_threshold=1.01, blend=0.5
    )
    column = list(cascade.classes_).index(leaf)
    expected = 0.5 * tfidf.predict_proba(texts)[:, column] + 0.5
    np.testing.assert_allclose(cascade.predict_proba(texts)[:, column], expected)
