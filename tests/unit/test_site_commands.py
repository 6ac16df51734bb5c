"""A second site through the commands a city types (site init -> build-features -> train text/risk ->
forecast -> models): every file lands under the site's own folder and every version under the site's own
registered names; the demo's paths and names are never touched (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.registry import MODEL_NAMES, RISK_MODEL_NAME, TEXT_MODEL_NAME

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def invoke(home: Path, *args: object) -> str:
    from cli.app import app

    result = CliRunner().invoke(app, [str(arg) for arg in args], env={"GRIDSENSE_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return result.stdout


def registered(home: Path) -> set[str]:
    from mlflow import MlflowClient

    from core.settings import tracking_uri

    uri = tracking_uri(home)
    return {model.name for model in MlflowClient(uri, uri).search_registered_models()}


def test_a_second_site_writes_and_registers_apart_from_the_demo(tmp_path):
    source = tmp_path / "raw"
    invoke(tmp_path, "demo-data", "--out", source, "--grids", 60, "--weeks", 60, "--scale", 2)
    invoke(
        tmp_path, "site", "init", "town", "--events", source / "events.parquet", "--grids",
        source / "grids.parquet", "--calendar", "none", "--language", "en", "--timezone", "Europe/Stockholm",
    )  # fmt: skip
    invoke(tmp_path, "build-features", "--site", "town")
    invoke(tmp_path, "train", "text", "--site", "town")
    invoke(tmp_path, "train", "risk", "--site", "town", "--test-weeks", 8)
    invoke(tmp_path, "forecast", "--site", "town")

    town = tmp_path / "datasets" / "town"
    for path in ("features/text.parquet", "features/panel.parquet", "forecasts/latest.parquet", "serving"):
        assert (town / path).exists(), path
    assert not (tmp_path / "datasets" / "demo").exists()
    assert registered(tmp_path) == {"gridsense-text-town", "gridsense-risk-town"}

    described = json.loads((town / "serving" / "site.json").read_text())
    assert described["site"] == "town" and described["language"] == "en"
    assert [group["id"] for group in described["groups"]] == ["dispute", "hazard"]

    import polars as pl

    panel = pl.read_parquet(town / "features" / "panel.parquet")
    assert not [column for column in panel.columns if "spring_festival" in column]  # --calendar none
    forecasts = pl.read_parquet(town / "forecasts" / "latest.parquet")
    assert set(forecasts["model_name"]) == {"gridsense-risk-town"}

    rows = json.loads(invoke(tmp_path, "models", "--site", "town", "--json"))
    assert {(row["site"], row["name"]) for row in rows} == {
        ("town", "gridsense-text-town"),
        ("town", "gridsense-risk-town"),
    }
    text = next(row for row in rows if row["name"] == "gridsense-text-town")
    assert text["tags"]["site"] == "town" and "champion" in text["aliases"]
    assert text["provenance"]["data.path"] == str(town / "features" / "text.parquet")
    assert {"data.content_hash", "taxonomy.fingerprint"} <= set(text["provenance"])
    risk = next(row for row in rows if row["name"] == "gridsense-risk-town")
    assert risk["tags"]["site"] == "town"
    assert risk["provenance"]["taxonomy.fingerprint"] == text["provenance"]["taxonomy.fingerprint"]
    assert risk["provenance"]["data.path"] == str(town / "features" / "panel.parquet")
    assert json.loads(invoke(tmp_path, "models", "--json")) == []  # the demo's names: nothing registered
    assert {TEXT_MODEL_NAME, RISK_MODEL_NAME} <= set(MODEL_NAMES)
