"""Property tests over every text path of the API (single report, title, id, batch item, evidence=true,
grid ids in query and path), with a small real TF-IDF model so the text goes through the real feature
code: lone surrogates, control characters and mixed scripts never give a 5xx; refused text is a 422
naming the field; a bad item never changes another item's answer, nor another request's.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.keys import KeyFile, Role
from core.settings import Settings
from features.taxonomy import load_taxonomy
from models.text_tfidf import TfidfTextClassifier
from serving.deps import get_resources
from serving.forecast_store import ForecastStore
from serving.main import create_app
from serving.resources import Resources
from serving.text_service import PreparedItem, TextClassifierService

from .conftest import FakeRegistry, forecast_table

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # `make test-fast` skips it
JSON = {"Content-Type": "application/json"}
EXAMPLES = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
KEPT_CONTROLS = "\t\n\x0b\x0c\r"
GOOD = ["3号楼楼上噪音扰民，请处理", "路口井盖松动了，晚上很危险", "小区垃圾成堆没人清理", "停车位被占用"]

# Han, Latin, Arabic, Cyrillic, emoji, full-width forms, whitespace, the kept and the refused controls,
# lone surrogates, and anything else hypothesis likes.
CHARACTERS = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
    st.characters(min_codepoint=0x0400, max_codepoint=0x04FF),
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),
    st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),
    st.sampled_from([" ", "\u3000", "\u00a0", "\u200b", "\ufeff", "\ufffd", "\uffff"]),
    st.sampled_from(list(KEPT_CONTROLS)),
    st.characters(categories=["Cc"]),
    st.characters(categories=["Cs"]),
    st.characters(),
)
TEXTS = st.text(CHARACTERS, max_size=40)


def refused(text: str) -> bool:
    """The rule, stated independently of serving.unicode_text: surrogates and controls but the kept."""
    return any(
        unicodedata.category(c) == "Cs" or (unicodedata.category(c) == "Cc" and c not in KEPT_CONTROLS)
        for c in text
    )


def small_model() -> TfidfTextClassifier:
    taxonomy = load_taxonomy()
    leaves = taxonomy.leaf_ids[:4]
    texts = [f"{word}问题第{i}次反映，请处理" for word in ("噪音", "井盖", "垃圾", "停车") for i in range(6)]
    labels = [leaf for leaf in leaves for _ in range(6)]
    return TfidfTextClassifier(taxonomy, calibration_cv=2).fit(texts, labels)


@pytest.fixture(scope="module")
def service() -> TextClassifierService:
    return TextClassifierService(small_model(), "gridsense-text", "3")


def build_app(home, service: TextClassifierService, **overrides) -> tuple[FastAPI, str]:
    app_settings = Settings(
        home=home,
        reload_interval_seconds=0,
        keys_refresh_seconds=0,
        rate_limit_data_scientist="",  # these tests are about text, not about call rates
        **overrides,
    )
    key = KeyFile(app_settings.api_keys_path).create(Role.DATA_SCIENTIST, label="properties").key
    app = create_app(app_settings)
    loaded = Resources.fixed(
        FakeRegistry(), text_service=service, forecast_store=ForecastStore(forecast_table())
    )
    app.dependency_overrides[get_resources] = lambda: loaded
    return app, key


@pytest.fixture(scope="module")
def api(tmp_path_factory, service) -> TestClient:
    app, key = build_app(tmp_path_factory.mktemp("properties"), service)
    with TestClient(app, headers={"X-API-Key": key}) as client:
        yield client


def post(api: TestClient, body: dict, evidence: bool) -> httpx.Response:
    """The body as JSON with \\u escapes, so a lone surrogate travels as valid JSON."""
    return api.post(
        "/v1/classify", params={"evidence": str(evidence).lower()}, content=json.dumps(body), headers=JSON
    )


def expected_status(text: str, field: str) -> int:
    if refused(text):
        return 422
    if field.endswith("text") and not text.strip():
        return 422  # must not be blank
    return 200


PATHS = {
    "text": lambda t: ({"text": t}, "text"),
    "title": lambda t: ({"title": t, "text": GOOD[0]}, "title"),
    "id": lambda t: ({"id": t, "text": GOOD[0]}, "id"),
    "batch text": lambda t: ({"items": [{"text": GOOD[1]}, {"text": t}, {"text": GOOD[2]}]}, "items[1].text"),
    "batch title": lambda t: (
        {"items": [{"text": GOOD[1]}, {"title": t, "text": GOOD[3]}]},
        "items[1].title",
    ),
}


@pytest.mark.parametrize("evidence", [False, True])
@pytest.mark.parametrize("path", list(PATHS))
@EXAMPLES
@given(text=TEXTS)
def test_every_body_text_path_answers_200_or_a_422_naming_the_field(api, path, evidence, text):
    body, field = PATHS[path](text)

    response = post(api, body, evidence)

    assert response.status_code < 500, response.text
    assert response.status_code == expected_status(text, field), response.text
    if response.status_code == 422:
        error = response.json()["error"]
        assert error["field"] == field and error["code"] == "validation_error"


@EXAMPLES
@given(bad=TEXTS, position=st.integers(0, 3), evidence=st.booleans())
def test_a_bad_item_never_changes_the_other_items_answers(api, service, bad, position, evidence):
    items = [{"id": f"g{i}", "text": text} for i, text in enumerate(GOOD)]
    items.insert(position, {"id": "bad", "text": bad})

    response = post(api, {"items": items}, evidence)

    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert response.json()["error"]["field"] == f"items[{position}].text"
        return
    answers = {result["id"]: result for result in response.json()["results"]}
    alone = service.predict([PreparedItem(f"g{i}", text, evidence=evidence) for i, text in enumerate(GOOD)])
    for result in alone:
        assert answers[result.id] == result.model_dump(mode="json")


@settings(max_examples=40, deadline=None, derandomize=True)
@given(text=st.text(CHARACTERS.filter(lambda c: unicodedata.category(c) != "Cs"), max_size=20))
def test_grid_ids_in_query_and_path_are_checked_the_same_way(api, text):
    query = api.get("/v1/risk", params={"grid_id": text})
    path = api.get(f"/v1/risk/{quote(text, safe='')}/history")

    for response, field in ((query, "grid_id[0]"), (path, "grid_id")):
        assert response.status_code < 500, response.text
        if refused(text):
            assert response.status_code == 422 and response.json()["error"]["field"] == field
        else:
            assert response.status_code in (200, 404), response.text


def failing_service(service: TextClassifierService, word: str) -> TextClassifierService:
    """The small model with a bug the validation cannot know about: it raises on one word."""
    model = service.classifier

    class Failing:
        def describe(self, texts, **kwargs):
            if any(word in text for text in texts):
                raise UnicodeEncodeError("utf-8", word, 0, 1, "the model broke")
            return model.describe(texts, **kwargs)

        def evidence(self, texts, **kwargs):
            return model.evidence(texts, **kwargs)

    return TextClassifierService(Failing(), "gridsense-text", "3")


@settings(max_examples=8, deadline=None, derandomize=True)
@given(bad=TEXTS.filter(lambda text: "毒" not in text), poisoned_at=st.integers(0, 11))
def test_concurrent_requests_are_not_failed_by_another_one(tmp_path_factory, service, bad, poisoned_at):
    """Through the micro-batcher (shared batches): requests sent together with one that the validation
    refuses and one that the model fails on get exactly the answers they get alone."""
    broken = failing_service(service, "毒")
    app, key = build_app(tmp_path_factory.mktemp("concurrent"), broken, microbatch_wait_ms=50)
    bodies = [{"id": str(i), "text": GOOD[i % len(GOOD)] + str(i)} for i in range(12)]
    bodies[poisoned_at] = {"id": "poisoned", "text": "有毒的报告"}
    bodies.append({"id": "bad", "text": bad or "x"})

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *(
                    client.post("/v1/classify", content=json.dumps(body), headers={**JSON, "X-API-Key": key})
                    for body in bodies
                )
            )

    responses = asyncio.run(send_all())

    for body, response in zip(bodies, responses, strict=True):
        assert response.status_code != 503, response.text
        if body["id"] == "poisoned":
            assert response.status_code == 500 and response.json()["error"]["code"] == "inference_failed"
        elif body["id"] == "bad":
            assert response.status_code in (200, 422), response.text
        else:
            [alone] = service.predict([PreparedItem("0", body["text"])])
            assert response.status_code == 200, response.text
            result = response.json()["results"][0]
            assert {**result, "id": "0"} == alone.model_dump(mode="json")
