from __future__ import annotations

from types import SimpleNamespace

import pytest

from serving.errors import PayloadTooLargeError
from serving.schemas import BatchClassifyRequest, ClassifyItem
from serving.text_service import ModelUri, TextClassifierService, to_alternative


def test_passes_title_and_text_and_settings_to_the_classifier(classifier):
    service = TextClassifierService(
        classifier, "gridsense-text", "3", top_k=1, review_threshold=0.95, label_threshold=0.3
    )

    [result] = service.classify([ClassifyItem(id="e1", title="井盖丢失", text="路口的盖子不见了")])

    assert classifier.calls == [
        {
            "texts": ["井盖丢失。路口的盖子不见了"],
            "top_k": 1,
            "review_threshold": 0.95,
            "label_threshold": 0.3,
        }
    ]
    assert (result.id, result.risk_group, result.department) == ("e1", "hazard", "市政管理部门")
    assert result.category_l3.name == "井盖破损"
    assert result.needs_review is True  # 0.9 < 0.95
    assert len(result.alternatives) == 1


def test_blank_title_is_not_sent(classifier):
    TextClassifierService(classifier, "m", None).classify([ClassifyItem(title=" ", text="噪音")])

    assert classifier.calls[0]["texts"] == ["噪音"]


def test_limits_name_the_field_as_sent(classifier):
    service = TextClassifierService(classifier, "m", "1", max_text_chars=3, max_batch=2)

    with pytest.raises(PayloadTooLargeError) as single:
        service.classify_request(ClassifyItem(text="四个字啊"))
    with pytest.raises(PayloadTooLargeError) as batch:
        service.classify_request(
            BatchClassifyRequest(items=[ClassifyItem(text="好"), ClassifyItem(text="四个字啊")])
        )
    with pytest.raises(PayloadTooLargeError) as too_many:
        service.classify_request(BatchClassifyRequest(items=[ClassifyItem(text="好")] * 3))

    assert (single.value.field, batch.value.field, too_many.value.field) == ("text", "items[1].text", "items")
    assert classifier.calls == []


def test_alternatives_may_be_objects_or_dicts():
    values = {"leaf_id": "a/b/c", "category_l3": "c", "probability": 0.25, "department": "d"}

    assert to_alternative(values) == to_alternative(SimpleNamespace(**values))
    assert to_alternative(values).probability == 0.25


@pytest.mark.parametrize(
    ("uri", "name", "alias", "version"),
    [
        ("models:/gridsense-text@champion", "gridsense-text", "champion", None),
        ("models:/gridsense-text/4", "gridsense-text", None, "4"),
        ("runs:/abc/model", None, None, None),
    ],
)
def test_model_uri_parsing(uri, name, alias, version):
    parsed = ModelUri.parse(uri)

    assert (parsed.name, parsed.alias, parsed.version) == (name, alias, version)
