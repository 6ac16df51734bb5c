from __future__ import annotations

import pytest

NOISE = "矛盾纠纷/邻里纠纷/噪音扰邻纠纷"
MANHOLE = "安全隐患/市政设施/井盖破损"

REPORT = {"title": "楼上装修噪音", "text": "3号楼502住户每天晚上十一点后还在装修，电钻声很大。"}


def test_single_report_gives_one_full_result(client, classifier):
    response = client.post("/v1/classify", json=REPORT)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "gridsense-text", "version": "7"}
    [result] = body["results"]
    assert result["id"] == "0"
    assert result["leaf_id"] == NOISE
    assert result["category_l1"] == {"name": "矛盾纠纷", "probability": pytest.approx(0.4)}
    assert result["category_l2"]["name"] == "邻里纠纷"
    assert result["category_l3"]["name"] == "噪音扰邻纠纷"
    assert (result["department"], result["risk_group"]) == ("社区居委会", "dispute")
    assert result["needs_review"] is True  # 0.4 < default review threshold 0.5
    assert [alt["leaf_id"] for alt in result["alternatives"]] == [NOISE, MANHOLE]
    assert set(result["alternatives"][0]) == {"leaf_id", "category_l3", "probability", "department"}
    assert classifier.calls[0]["texts"] == [f"{REPORT['title']}。{REPORT['text']}"]  # joined as in training


def test_batch_keeps_order_and_ids(client):
    items = [
        {"id": "a", "text": "邻居家狗叫了一整夜"},
        {"text": "小区门口井盖松动翘起"},
        {"id": "c", "title": "井盖", "text": "路口的盖子不见了"},
    ]
    response = client.post("/v1/classify", json={"items": items})

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["id"] for r in results] == ["a", "1", "c"]
    assert [r["risk_group"] for r in results] == ["dispute", "hazard", "hazard"]
    assert results[1]["needs_review"] is False


def test_labels_list_the_primary_leaf_first(client):
    [result] = client.post("/v1/classify", json={"text": "小区门口井盖松动翘起"}).json()["results"]
    assert [label["leaf_id"] for label in result["labels"]] == [MANHOLE]
    assert result["labels"][0]["probability"] == pytest.approx(0.9)


def test_evidence_only_when_asked(client, classifier):
    items = [{"text": "小区门口井盖松动翘起"}, {"text": "邻居家狗叫了一整夜"}]
    plain = client.post("/v1/classify", json={"items": items}).json()["results"]
    assert [result["evidence"] for result in plain] == [None, None]
    assert not any("evidence" in call for call in classifier.calls)

    response = client.post("/v1/classify?evidence=true", json={"items": items})
    assert response.status_code == 200, response.text
    explained = response.json()["results"]
    assert explained[0]["evidence"] == [{"phrase": "井盖松动", "weight": 0.5}]
    assert explained[1]["evidence"] == []
    [call] = [call for call in classifier.calls if "evidence" in call]
    assert call == {"evidence": [item["text"] for item in items], "top_n": 3}


def test_evidence_flag_must_be_a_boolean(client, assert_error):
    response = client.post("/v1/classify?evidence=maybe", json=REPORT)
    assert_error(response, 422, "validation_error", "evidence")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "  \n\t "}, "text"),
        ({"text": 123}, "text"),
        ({"text": ["一条", "两条"]}, "text"),
        ({"title": 5, "text": "正常内容"}, "title"),
        ({"title": "只有标题"}, "text"),
        ({"txt": "拼错的字段"}, "text"),
        ({"items": [{"text": "好的"}, {"text": "   "}]}, "items[1].text"),
        ({"items": [{"text": "好的"}, {"id": 7, "text": "好的"}]}, "items[1].id"),
        ({"items": []}, "items"),
        ({"items": "不是列表"}, "items"),
        ({"items": [{"text": "好的"}], "text": "两种都给"}, "text"),
        ([{"text": "列表不是对象"}], "body"),
        ("只是字符串", "body"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(client, assert_error, body, field):
    response = client.post("/v1/classify", json=body)

    assert_error(response, 422, "validation_error", field)


def test_missing_body_is_422(client, assert_error):
    error = assert_error(client.post("/v1/classify"), 422, "validation_error", "body")
    assert "required" in error["message"]


def test_invalid_json_is_422(client, assert_error):
    response = client.post(
        "/v1/classify", content='{"text": "未闭合'.encode(), headers={"Content-Type": "application/json"}
    )

    error = assert_error(response, 422, "validation_error", "body")
    assert "JSON" in error["message"]


def test_too_long_text_is_413_naming_the_field(client, assert_error, classifier):
    long_text = "噪" * 51  # the fixture allows 50 characters

    assert_error(client.post("/v1/classify", json={"text": long_text}), 413, "payload_too_large", "text")
    batch = {"items": [{"text": "好"}, {"text": "好", "title": long_text}]}
    assert_error(client.post("/v1/classify", json=batch), 413, "payload_too_large", "items[1].title")
    assert classifier.calls == []


def test_batch_over_the_limit_is_413(client, assert_error, classifier):
    items = [{"text": f"第{i}条"} for i in range(5)]  # the fixture allows 4

    error = assert_error(
        client.post("/v1/classify", json={"items": items}), 413, "payload_too_large", "items"
    )
    assert "4" in error["message"]
    assert classifier.calls == []


def test_batch_at_the_limit_is_accepted(client):
    items = [{"text": "噪" * 50} for _ in range(4)]

    assert client.post("/v1/classify", json={"items": items}).status_code == 200
