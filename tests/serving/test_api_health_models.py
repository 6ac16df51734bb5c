from __future__ import annotations

from fastapi.testclient import TestClient

from serving.deps import get_text_service
from serving.resources import Resources
from tests.serving.conftest import FakeRegistry


def test_healthz_answers_even_when_nothing_is_loaded(app):
    response = TestClient(app).get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_503_listing_what_is_missing_before_loading(app, admin_headers):
    response = TestClient(app, headers=admin_headers).get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert [entry.split(":")[0] for entry in body["missing"]] == ["text_model", "forecasts"]


def test_readyz_is_200_when_loaded(client):
    response = client.get("/readyz")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["missing"], body["warnings"]) == ("ready", [], [])
    assert body["text_model"] == {"name": "gridsense-text", "version": "7"}
    assert body["risk_model"] == {"name": "gridsense-risk", "version": "5"}
    assert body["forecast_week"] == "2026-01-12"
    assert body["components"]["text_model"]["version"] == "7"


def test_endpoints_needing_a_model_are_503_when_it_is_not_loaded(app, admin_headers, assert_error):
    client = TestClient(app, headers=admin_headers)

    assert_error(client.post("/v1/classify", json={"text": "噪音"}), 503, "not_ready", None)
    assert_error(client.get("/v1/risk"), 503, "not_ready", None)


def test_models_lists_versions_aliases_and_metrics(client):
    response = client.get("/v1/models")

    assert response.status_code == 200, response.text
    text_model, risk_model = response.json()["models"]
    assert text_model["name"] == "gridsense-text"
    assert text_model["versions"][0]["aliases"] == ["champion"]
    assert text_model["versions"][0]["metrics"] == {"test_macro_f1": 0.81}
    assert risk_model == {"name": "gridsense-risk", "versions": [], "error": "not registered"}


def test_models_reports_a_missing_registry_instead_of_failing(app, admin_headers):
    response = TestClient(app, headers=admin_headers).get(
        "/v1/models"
    )  # the app's home (tmp_path) has no MLflow database

    assert response.status_code == 200
    body = response.json()
    assert "does not exist" in body["error"]
    assert [model["name"] for model in body["models"]] == ["gridsense-text", "gridsense-risk"]


def test_openapi_lists_the_routes_with_a_chinese_example(client):
    response = client.get("/openapi.json")

    assert response.status_code == 200
    spec = response.json()
    assert {"/v1/classify", "/v1/risk", "/v1/models", "/healthz", "/readyz"} <= set(spec["paths"])
    examples = spec["paths"]["/v1/classify"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert "噪音" in examples["single"]["value"]["title"]
    assert client.get("/docs").status_code == 200


def test_unknown_route_uses_the_error_envelope(client, assert_error):
    assert_error(client.get("/v1/nothing-here"), 404, "not_found", None)


def test_unexpected_errors_are_json_500_with_the_request_id(app, admin_headers, assert_error):
    class Broken:
        def prepare(self, request):
            raise RuntimeError("boom")

    app.dependency_overrides[get_text_service] = Broken
    client = TestClient(app, raise_server_exceptions=False, headers=admin_headers)

    response = client.post("/v1/classify", json={"text": "噪音"}, headers={"X-Request-ID": "req-42"})

    error = assert_error(response, 500, "internal_error", None)
    assert error["request_id"] == "req-42"
    assert "boom" not in response.text


def test_request_id_is_generated_when_absent_or_malformed(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id<>" * 10}).headers["X-Request-ID"]

    assert len(generated) == 32
    assert replaced != "bad id<>" * 10 and len(replaced) == 32


def test_a_risk_only_site_is_ready_without_a_text_model_and_classify_says_why(
    app, store, admin_headers, assert_error
):
    from serving.deps import get_resources

    risk_only = Resources.fixed(registry=FakeRegistry(), forecast_store=store)
    risk_only.text_enabled = False
    app.dependency_overrides[get_resources] = lambda: risk_only
    client = TestClient(app, headers=admin_headers)

    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["missing"] == [] and "text_model" not in ready.json()["components"]
    error = assert_error(client.post("/v1/classify", json={"text": "噪音"}), 503, "not_ready", None)
    assert "serves no text model" in error["message"]
    app.dependency_overrides.clear()


def test_a_text_only_site_is_ready_without_forecasts_and_risk_says_why(app, admin_headers, assert_error):
    from serving.deps import get_resources

    text_only = Resources.fixed(registry=FakeRegistry())
    text_only.risk_enabled = text_only.text_enabled = False
    app.dependency_overrides[get_resources] = lambda: text_only
    client = TestClient(app, headers=admin_headers)

    assert client.get("/readyz").status_code == 200
    error = assert_error(client.get("/v1/risk"), 503, "not_ready", None)
    assert "serves no risk forecasts" in error["message"]
    app.dependency_overrides.clear()
