"""The models panel's drift chart (issue 14) in headless Chromium: after the API has classified enough
reports against a saved reference, the panel draws the signals over time and says whether one alarms."""

from __future__ import annotations

import json

import polars as pl
import pytest

from core.keys import Role
from features.events import load_events
from features.taxonomy import load_taxonomy
from monitoring.job import build_reference
from serving.drift_gauges import REFRESH_EVERY

from .test_dashboard import open_dashboard

pytestmark = pytest.mark.slow


def test_the_models_panel_charts_the_live_drift_signals(page, base_url, world, api, artifacts):
    events = load_events(world.root / "city" / "events.parquet", load_taxonomy()).events.sort("reported_at")
    texts = events.get_column("text").to_list()
    reference = build_reference(world.classifier, pl.DataFrame({"text": texts[:2000]}), model_version="2")
    path = world.settings.home / world.settings.drift_reference_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(reference.to_dict()), encoding="utf-8")
    classify = {"X-API-Key": world.keys[Role.INTAKE]}
    traffic = texts[-2 * REFRESH_EVERY :] + ["Broken street light on Main Street, please fix"] * REFRESH_EVERY
    for start in range(0, len(traffic), 64):
        batch = [{"text": text} for text in traffic[start : start + 64]]
        assert api.post("/v1/classify", json={"items": batch}, headers=classify).status_code == 200

    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    page.click("#tab-models")
    page.wait_for_selector("#drift .drift-chart svg", state="attached")
    page.wait_for_function('document.querySelector("#drift .drift-chart").textContent.includes("PSI")')
    text = page.text_content("#drift")
    assert "模型漂移监测" in text and "参照：模型 v2" in text
    assert "告警" in text  # the English reports at the end move the mix and the unseen n-grams
    assert "类别构成 PSI" in page.text_content("#drift .drift-chart")
    page.screenshot(path=str(artifacts / "models_drift.png"), full_page=True)
