"""Live drift gauges (issue 14): /metrics shows the drift signals of the latest classified reports against
the reference `gridsense monitor` saved, raises an alarm gauge when the traffic moves, and the API's
drift log feeds `gridsense monitor --drift-log`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.settings import Settings
from features.text import prepare_texts
from monitoring.scoring import ScoredReports
from monitoring.signals import DriftReference
from monitoring.traffic import load_drift_log
from serving.drift_gauges import MIN_WINDOW_REPORTS, REFRESH_EVERY

from .test_metrics_endpoint import samples, value


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        home=tmp_path,
        reload_interval_seconds=0,
        keys_refresh_seconds=0,
        drift_window_reports=WINDOW,
        rate_limit_data_scientist="100000/second",
    )


NOISE_TEXTS = [f"楼上噪音扰民{'!' * (i % 3)}" for i in range(REFRESH_EVERY)]
WINDOW = 100  # filled by one refresh (REFRESH_EVERY reports), and enough for signals (MIN_WINDOW_REPORTS)


def noise_reference(settings: Settings) -> None:
    """What the fake classifier answers for noise reports: 矛盾纠纷, probability 0.4, flagged for review."""
    n = 500
    lengths = [len(text) for text in prepare_texts(NOISE_TEXTS)]
    scored = ScoredReports(
        category_l1=np.array(["矛盾纠纷"] * n, dtype=object),
        leaf_id=np.array(["矛盾纠纷/邻里纠纷/噪音扰邻纠纷"] * n, dtype=object),
        confidence=np.full(n, 0.4),
        needs_review=np.ones(n, dtype=bool),
        length=np.array([lengths[i % len(lengths)] for i in range(n)]),
        unseen_share=np.full(n, np.nan),
    )
    path = settings.home / settings.drift_reference_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(DriftReference.build(scored).to_dict()), encoding="utf-8")


def classify(client, texts: list[str]) -> None:
    """Classify in requests of 4 (what the fixture's service takes), then wait for the gauges."""
    for start in range(0, len(texts), 4):
        batch = [{"text": text} for text in texts[start : start + 4]]
        assert client.post("/v1/classify", json={"items": batch}).status_code == 200
    client.app.state.drift_gauges.flush()


def test_the_window_fills_in_one_refresh():
    assert REFRESH_EVERY >= WINDOW >= MIN_WINDOW_REPORTS


def test_the_gauges_stay_quiet_on_reference_like_traffic_and_alarm_when_it_moves(client, settings):
    noise_reference(settings)
    classify(client, NOISE_TEXTS)
    found = samples(client.get("/metrics").text)
    assert value(found, "gridsense_drift_window_reports") == WINDOW
    assert value(found, "gridsense_drift_alarm", signal="category_mix") == 0
    assert value(found, "gridsense_drift_threshold", signal="category_mix") == settings.drift_category_psi

    classify(client, ["小区井盖丢了"] * REFRESH_EVERY)  # the window is now all hazards
    found = samples(client.get("/metrics").text)
    assert value(found, "gridsense_drift_alarm", signal="category_mix") == 1
    assert value(found, "gridsense_drift_signal", signal="category_mix") > settings.drift_category_psi
    assert value(found, "gridsense_drift_window_reports") == WINDOW

    logged = load_drift_log(settings.home / settings.drift_log_path)
    assert len(logged) == 2 * REFRESH_EVERY
    assert set(logged.category_l1) == {"矛盾纠纷", "安全隐患"}
    assert "小区井盖丢了" not in (settings.home / settings.drift_log_path).read_text(encoding="utf-8")


def test_without_a_reference_only_the_window_is_counted(client, settings):
    classify(client, ["楼上噪音"] * REFRESH_EVERY)
    found = samples(client.get("/metrics").text)
    assert value(found, "gridsense_drift_window_reports") == WINDOW
    assert ("gridsense_drift_signal", frozenset({("signal", "category_mix")})) not in found


def test_get_drift_gives_the_history_for_the_dashboard(client, settings):
    assert client.get("/v1/drift").json()["reference"] is None
    noise_reference(settings)
    classify(client, NOISE_TEXTS)
    classify(client, ["小区井盖丢了"] * REFRESH_EVERY)

    body = client.get("/v1/drift").json()
    assert body["reference"]["reports"] == 500
    assert body["thresholds"]["category_mix"] == settings.drift_category_psi
    first, last = body["history"]
    assert first["alarms"] == [] and "category_mix" in last["alarms"]
    assert last["reports_seen"] == 2 * REFRESH_EVERY and last["window_reports"] == WINDOW


def test_an_empty_drift_log_path_turns_the_log_off(tmp_path):
    from prometheus_client import CollectorRegistry

    from serving.drift_gauges import DriftGauges

    gauges = DriftGauges(Settings(home=tmp_path, drift_log_path=""), CollectorRegistry())
    assert gauges.log_path is None
    assert (
        DriftGauges(Settings(home=tmp_path), CollectorRegistry()).log_path
        == tmp_path / ".gridsense/drift.jsonl"
    )


def test_the_gauges_count_novel_reports_against_the_served_models_vocabulary(tmp_path):
    """A model with a vocabulary (the TF-IDF classifier): new phrasings raise `novel_reports` on /metrics."""
    from types import SimpleNamespace

    import polars as pl
    from prometheus_client import CollectorRegistry

    from features.taxonomy import Leaf, Taxonomy
    from models.text_tfidf import TfidfTextClassifier
    from monitoring.job import build_reference
    from serving.drift_gauges import DriftGauges

    rng = np.random.default_rng(0)
    known = [
        f"幸福小区{rng.integers(1, 30)}栋{rng.choice(['噪音很大', '半夜吵闹', '装修声音'])}"
        for _ in range(300)
    ]
    fresh = [
        f"幸福小区{rng.integers(1, 30)}栋{rng.choice(['共享单车乱停', '电动车飞线充电'])}" for _ in range(300)
    ]
    leaf = Leaf("噪音", "噪音", "噪音", "城管", "dispute"), Leaf("其他", "其他", "其他", "城管", "none")
    model = TfidfTextClassifier(taxonomy=Taxonomy("tiny", "1", leaf), calibration_cv=2).fit(
        known[:200] + ["其他事情"] * 20, ["噪音"] * 200 + ["其他"] * 20
    )
    settings = Settings(home=tmp_path, drift_window_reports=WINDOW, drift_log_path="")
    reference = build_reference(model, pl.DataFrame({"text": known[200:]}))
    assert reference.novel_cutoff is not None
    path = settings.home / settings.drift_reference_path
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(reference.to_dict()), encoding="utf-8")
    registry = CollectorRegistry()
    gauges = DriftGauges(settings, registry)

    def feed(texts: list[str]) -> None:
        result = SimpleNamespace(
            category_l1=SimpleNamespace(name="噪音"),
            leaf_id="噪音",
            category_l3=SimpleNamespace(probability=0.9),
            needs_review=False,
        )
        gauges.observe(model, texts, [result] * len(texts))
        gauges.flush()

    def novel() -> tuple[float, float]:
        return (
            registry.get_sample_value("gridsense_drift_signal", {"signal": "novel_reports"}),
            registry.get_sample_value("gridsense_drift_alarm", {"signal": "novel_reports"}),
        )

    feed((known[200:] * 3)[:REFRESH_EVERY])
    assert novel()[1] == 0 and novel()[0] < settings.drift_novel_report_increase
    assert registry.get_sample_value("gridsense_drift_threshold", {"signal": "novel_reports"}) == 0.05
    feed((fresh * 3)[:REFRESH_EVERY])
    assert novel()[1] == 1 and novel()[0] > 0.5
