"""A labelled CSV through the commands a new city types: build-text -> train text -> register -> the API
classifies with the CSV's own (flat) labels. On a tiny synthetic CSV, and on tipdm's messages when
../shared/data is present."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "tipdm2020c"
TIPDM_TAXONOMY = Path(__file__).resolve().parents[2] / "features" / "taxonomies" / "tipdm_flat7.yaml"
WORDS = {
    "供水": ["停水", "水管爆裂", "自来水发黄"],
    "噪音": ["广场舞太吵", "工地夜间施工", "酒吧音响"],
    "停车": ["乱停车", "占用车位", "僵尸车"],
}


def invoke(home: Path, *args: str) -> str:
    from cli.app import app

    result = CliRunner().invoke(app, [str(arg) for arg in args], env={"GRIDSENSE_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return result.output


def build_and_train(home: Path, data: Path, taxonomy: Path) -> str:
    out = home / "datasets" / "mine" / "features"
    invoke(home, "build-text", "--data", data, "--taxonomy", taxonomy, "--out", out)
    return invoke(home, "train", "text", "--data", out / "text.parquet", "--taxonomy", taxonomy)


def logged_params(home: Path) -> dict[str, str]:
    from mlflow import MlflowClient

    from core.registry import TEXT_EXPERIMENT
    from core.settings import tracking_uri

    client = MlflowClient(tracking_uri(home), tracking_uri(home))
    [run] = client.search_runs([client.get_experiment_by_name(TEXT_EXPERIMENT).experiment_id])
    return run.data.params


def classify(home: Path, texts: list[str]) -> dict:
    from fastapi.testclient import TestClient

    from core.keys import KeyFile, Role
    from core.settings import Settings
    from serving.main import create_app

    settings = Settings(home=home, reload_interval_seconds=0, keys_refresh_seconds=0)
    key = KeyFile(settings.api_keys_path).create(Role.INTAKE).key
    with TestClient(create_app(settings), headers={"X-API-Key": key}) as api:
        answer = api.post("/v1/classify", json={"items": [{"text": t} for t in texts]})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_synthetic_labelled_csv_is_trained_registered_and_served(tmp_path):
    taxonomy = tmp_path / "flat3.yaml"
    taxonomy.write_text(
        "name: flat3\nversion: '1'\ncategories:\n"
        + "".join(f"  - name: {label}\n    department: {label}办\n    risk_group: none\n" for label in WORDS),
        encoding="utf-8",
    )
    rng = np.random.default_rng(0)
    rows = [
        {
            "id": f"{label}{i}",
            "title": f"{rng.choice(words)}问题" if i % 2 else "",
            "text": "" if i % 5 == 1 else f"小区{rng.choice(words)}，第{i}次反映，请处理",
            "label": label,
        }
        for label, words in WORDS.items()
        for i in range(60)
    ]
    data = tmp_path / "labelled.csv"
    pl.DataFrame(rows).write_csv(data)

    output = build_and_train(tmp_path, data, taxonomy)

    assert "registered gridsense-text version 1" in output
    assert logged_params(tmp_path)["split.method"] == "grouped_stratified"  # the CSV has no dates
    answer = classify(tmp_path, ["楼下工地夜间施工，吵得睡不着", "小区里好多僵尸车占用车位"])
    assert [r["leaf_id"] for r in answer["results"]] == ["噪音", "停车"]


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED / "messages_train.csv").exists(), reason="../shared/data is absent")
def test_tipdm_messages_train_to_a_served_model_with_tipdm_labels(tmp_path):
    output = build_and_train(tmp_path, SHARED / "messages_train.csv", TIPDM_TAXONOMY)

    macro_f1 = float(re.search(r"macro_f1_leaf\s*│\s*([0-9.]+)", output).group(1))
    assert macro_f1 > 0.85, output
    dataset = pl.read_parquet(tmp_path / "datasets" / "mine" / "features" / "text.parquet")
    assert dataset.height == 7093 and set(dataset["split_method"]) == {"grouped_stratified"}
    answer = classify(tmp_path, ["出租车司机拒载还绕路多收费", "学校乱收补课费"])
    assert [r["leaf_id"] for r in answer["results"]] == ["交通运输", "教育文体"]
