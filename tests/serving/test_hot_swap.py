"""Hot swaps: a new version replaces the old only after loading and a smoke test; a failing one never
does; requests in flight finish on their version; the local cache serves when the registry is down."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.deps import get_resources
from serving.hot_swap import HotSwap
from serving.model_cache import ModelCache
from serving.resources import FORECASTS, TEXT_MODEL, Resources
from serving.text_service import TextClassifierService, smoke_test

from .conftest import FakeClassifier, FakeRegistry


class BrokenClassifier:
    def describe(self, texts, top_k=3, review_threshold=None, label_threshold=None):
        raise RuntimeError("model file is corrupt")


class FakeRegistrySource:
    """A registry alias the test moves; versions named 'bad-load' fail to load, 'bad-smoke' fail the
    smoke test. Downloads go through a real ModelCache."""

    kind = "registry"

    def __init__(self, cache_root: Path, version: str = "1") -> None:
        self.version = version
        self.reachable = True
        self.loads: list[str] = []
        self.cache = ModelCache(cache_root, "gridsense-text")

    def current_version(self) -> str:
        if not self.reachable:
            raise ConnectionError("registry unreachable")
        return self.version

    def load(self, version: str) -> TextClassifierService:
        self.loads.append(version)
        if version == "bad-load":
            raise OSError("artifact download failed")
        path = self.cache.fetch(version, lambda dst: _write_model(dst, version))
        return self._service(path)

    def load_last_good(self):
        cached = self.cache.last_good()
        return None if cached is None else (cached[0], self._service(cached[1]))

    def keep_as_last_good(self, version: str) -> None:
        self.cache.mark_good(version)

    @staticmethod
    def _service(path: Path) -> TextClassifierService:
        version = (path / "MLmodel").read_text()
        classifier = BrokenClassifier() if version == "bad-smoke" else FakeClassifier()
        return TextClassifierService(classifier, "gridsense-text", version)


def _write_model(destination: Path, version: str) -> Path:
    destination.mkdir(parents=True)
    (destination / "MLmodel").write_text(version)
    return destination


def text_swap(source: FakeRegistrySource, events: list | None = None) -> HotSwap[TextClassifierService]:
    listeners = [events.append] if events is not None else []
    return HotSwap(TEXT_MODEL, source, smoke_test=lambda s: smoke_test(s, "井盖丢了"), listeners=listeners)


@pytest.fixture
def source(tmp_path) -> FakeRegistrySource:
    return FakeRegistrySource(tmp_path / "cache")


def test_a_new_version_is_swapped_in_after_its_smoke_test(source):
    events: list = []
    swap = text_swap(source, events)
    swap.refresh("start-up")
    first = swap.value

    source.version = "2"
    event = swap.refresh("poll")

    assert (event.outcome, event.previous_version, event.version) == ("swapped", "1", "2")
    assert swap.value is not first and swap.value.model.version == "2"
    assert swap.refresh("poll").outcome == "unchanged"
    assert source.loads == ["1", "2"]  # unchanged: nothing loaded again
    assert [e.outcome for e in events] == ["swapped", "swapped", "unchanged"]


@pytest.mark.parametrize("bad", ["bad-load", "bad-smoke"])
def test_a_failing_version_never_replaces_the_good_one_and_is_retried(source, bad):
    swap = text_swap(source)
    swap.refresh("start-up")
    good = swap.value

    source.version = bad
    event = swap.refresh("poll")

    assert event.outcome == "failed" and event.version == "1" and event.attempted_version == bad
    assert swap.value is good
    assert swap.failed_version == bad and bad in swap.last_error
    swap.refresh("poll")
    assert source.loads.count(bad) == 2  # tried again at the next refresh
    assert source.cache.last_good()[0] == "1"  # the failed version never becomes the cached one


def test_moving_the_alias_back_clears_the_failure(source):
    swap = text_swap(source)
    swap.refresh("start-up")
    source.version = "bad-smoke"
    swap.refresh("poll")

    source.version = "1"

    assert swap.refresh("poll").outcome == "unchanged"
    assert swap.last_error is None and swap.failed_version is None


def test_registry_unreachable_at_start_up_serves_the_cached_model(source, tmp_path):
    text_swap(source).refresh("start-up")  # a previous run cached version 1
    restarted = FakeRegistrySource(tmp_path / "cache", version="1")
    restarted.reachable = False

    swap = text_swap(restarted)
    event = swap.refresh("start-up")

    assert event.outcome == "swapped" and "unreachable" in event.error
    assert (swap.active.version, swap.active.source) == ("1", "cache")
    assert swap.value.model.version == "1"

    restarted.reachable = True
    assert swap.refresh("poll").outcome == "unchanged"
    assert swap.active.source == "registry"  # the same version, now confirmed by the registry


def test_registry_unreachable_and_no_cache_is_not_ready(source):
    source.reachable = False
    swap = text_swap(source)

    event = swap.refresh("start-up")

    assert event.outcome == "failed" and swap.value is None
    assert "unreachable" in swap.last_error


def test_the_cache_keeps_the_last_two_good_versions(source):
    swap = text_swap(source)
    for version in ("1", "2", "3"):
        source.version = version
        swap.refresh("poll")

    kept = sorted(p.name for p in source.cache.dir.iterdir() if p.is_dir())

    assert kept == ["2", "3"]
    assert source.cache.last_good()[0] == "3"


# ---- through the API --------------------------------------------------------------------------------
@pytest.fixture
def swapping_app(app, source, store):
    resources = Resources(
        registry=FakeRegistry(), text=text_swap(source), forecasts=HotSwap.fixed(FORECASTS, store)
    )
    resources.text.refresh("start-up")
    app.dependency_overrides[get_resources] = lambda: resources
    return app, resources


def test_responses_name_the_version_and_follow_an_admin_reload(swapping_app, source, admin_headers, settings):
    app, _ = swapping_app
    client = TestClient(app, headers=admin_headers)
    before = client.post("/v1/classify", json={"text": "井盖丢了"})

    source.version = "2"
    reload = client.post("/v1/admin/reload")
    after = client.post("/v1/classify", json={"text": "井盖丢了"})

    assert before.json()["model"]["version"] == "1" and before.headers["X-Model-Version"] == "1"
    assert reload.status_code == 200
    text_result = next(r for r in reload.json()["results"] if r["component"] == TEXT_MODEL)
    assert (text_result["outcome"], text_result["previous_version"], text_result["version"]) == (
        "swapped",
        "1",
        "2",
    )
    assert after.json()["model"]["version"] == "2" and after.headers["X-Model-Version"] == "2"
    audit = (settings.audit_log_path).read_text(encoding="utf-8")
    assert '"action": "reload"' in audit and admin_headers["X-API-Key"].split("_")[1] in audit


def test_a_failed_reload_is_reported_in_readyz_while_the_old_version_serves(
    swapping_app, source, admin_headers
):
    app, _ = swapping_app
    client = TestClient(app, headers=admin_headers)

    source.version = "bad-smoke"
    reload = client.post("/v1/admin/reload").json()
    ready = client.get("/readyz")
    classify = client.post("/v1/classify", json={"text": "井盖丢了"})

    assert next(r for r in reload["results"] if r["component"] == TEXT_MODEL)["outcome"] == "failed"
    assert ready.status_code == 200
    body = ready.json()
    assert body["text_model"]["version"] == "1"
    assert body["components"][TEXT_MODEL]["failed_version"] == "bad-smoke"
    assert any("bad-smoke" in warning and "still serving 1" in warning for warning in body["warnings"])
    assert classify.status_code == 200 and classify.json()["model"]["version"] == "1"


def test_a_request_in_flight_finishes_on_the_version_it_started_with(swapping_app, source, admin_headers):
    app, resources = swapping_app
    started, release = threading.Event(), threading.Event()

    class SlowClassifier(FakeClassifier):
        def describe(self, texts, top_k=3, review_threshold=None, label_threshold=None):
            started.set()
            assert release.wait(10)
            return super().describe(texts, top_k, review_threshold)

    resources.text.value.classifier = SlowClassifier()  # version 1, mid-request
    client = TestClient(app, headers=admin_headers)
    answers: list = []
    worker = threading.Thread(
        target=lambda: answers.append(client.post("/v1/classify", json={"text": "噪音"}))
    )
    worker.start()
    assert started.wait(10)

    source.version = "2"
    resources.text.refresh("poll")  # swapped while the request is still running
    release.set()
    worker.join(10)

    assert answers[0].status_code == 200 and answers[0].json()["model"]["version"] == "1"
    assert client.post("/v1/classify", json={"text": "噪音"}).json()["model"]["version"] == "2"
