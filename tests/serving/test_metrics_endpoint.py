from __future__ import annotations

import re

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from serving.deps import get_resources
from serving.hot_swap import HotSwap
from serving.main import _reload_listener
from serving.resources import FORECASTS, TEXT_MODEL, Resources

from .conftest import FakeRegistry
from .test_hot_swap import FakeRegistrySource, text_swap


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_requests_latency_predictions_and_review_rate(client):
    client.post("/v1/classify", json={"items": [{"text": "楼上噪音"}, {"text": "井盖丢了"}, {"text": "吵"}]})
    client.get("/v1/risk", params={"grid_id": "G9999"})
    client.get("/v1/risk", params={"grid_id": "G0001"})

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert value(found, "gridsense_http_requests_total", method="GET", route="/v1/risk", status="404") == 1
    assert value(found, "gridsense_http_requests_total", method="GET", route="/v1/risk", status="200") == 1
    assert (
        value(
            found,
            "gridsense_http_request_duration_seconds_count",
            method="POST",
            route="/v1/classify",
            status="200",
        )
        == 1
    )
    noise = "矛盾纠纷/邻里纠纷/噪音扰邻纠纷"
    manhole = "安全隐患/市政设施/井盖破损"
    assert (
        value(found, "gridsense_predictions_total", model_version="7", leaf_id=noise, risk_group="dispute")
        == 2
    )
    assert (
        value(found, "gridsense_predictions_total", model_version="7", leaf_id=manhole, risk_group="hazard")
        == 1
    )
    assert value(found, "gridsense_predictions_needs_review_total", model_version="7") == 2  # p=0.4 < 0.5


def test_unknown_paths_share_one_route_label(client):
    for path in ("/a", "/b/c", "/v1/../etc/passwd"):
        client.get(path)

    routes = {
        dict(labels)["route"]
        for (name, labels) in samples(client.get("/metrics").text)
        if name == "gridsense_http_requests_total"
    }

    assert "<unmatched>" in routes and not any(route.startswith(("/a", "/b")) for route in routes)


def test_reloads_and_the_served_version_are_exported(app, tmp_path, store, admin_headers):
    source = FakeRegistrySource(tmp_path / "cache")
    text = text_swap(source, events=None)
    text.listeners.append(_reload_listener(app))
    resources = Resources(registry=FakeRegistry(), text=text, forecasts=HotSwap.fixed(FORECASTS, store))
    app.state.resources = resources
    app.dependency_overrides[get_resources] = lambda: resources
    text.refresh("start-up")
    source.version = "2"
    text.refresh("poll")
    source.version = "bad-smoke"
    text.refresh("poll")

    found = samples(TestClient(app, headers=admin_headers).get("/metrics").text)

    assert (
        value(found, "gridsense_model_reloads_total", component=TEXT_MODEL, trigger="poll", outcome="swapped")
        == 1
    )
    assert (
        value(found, "gridsense_model_reloads_total", component=TEXT_MODEL, trigger="poll", outcome="failed")
        == 1
    )
    assert value(found, "gridsense_model_info", component=TEXT_MODEL, version="2", source="registry") == 1
    old = (
        "gridsense_model_info",
        frozenset({"component": TEXT_MODEL, "version": "1", "source": "registry"}.items()),
    )
    assert found[old] == 0  # the old version's series drops to 0


def test_metrics_need_a_data_scientist_key(app, api_keys):
    client = TestClient(app)

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"X-API-Key": api_keys["supervisor"]}).status_code == 403
    text = client.get("/metrics", headers={"Authorization": f"Bearer {api_keys['data_scientist']}"}).text
    assert re.search(r"^# TYPE gridsense_http_requests_total counter$", text, re.MULTILINE)
