"""The promotion gate (refusing and accepting), forced promotion, rollback and listing, against a
temporary MLflow SQLite store with tiny real text models (trained by the real training run)."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from core.audit import AuditLog
from core.registry import RISK_MODEL_NAME, TEXT_MODEL_NAME
from features.taxonomy import load_taxonomy
from promotion.registry_ops import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS_CHAMPION,
    PromotionError,
    PromotionRule,
    compare_logged_risk_metrics,
    list_versions,
    promote,
    rollback,
)
from training.tracking import use_local_store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]  # `make test-fast` skips it

RULE = PromotionRule(primary="macro_f1_leaf", guards={"macro_f1_l1": 0.002})


# ---- the rule alone ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("champion", "challenger", "passed", "failing"),
    [
        (
            {"macro_f1_leaf": 0.80, "macro_f1_l1": 0.90},
            {"macro_f1_leaf": 0.81, "macro_f1_l1": 0.90},
            True,
            [],
        ),
        (
            {"macro_f1_leaf": 0.80, "macro_f1_l1": 0.90},
            {"macro_f1_leaf": 0.81, "macro_f1_l1": 0.898},
            True,
            [],
        ),
        (
            {"macro_f1_leaf": 0.80, "macro_f1_l1": 0.90},
            {"macro_f1_leaf": 0.81, "macro_f1_l1": 0.897},
            False,
            ["macro_f1_l1"],
        ),
        (
            {"macro_f1_leaf": 0.80, "macro_f1_l1": 0.90},
            {"macro_f1_leaf": 0.80, "macro_f1_l1": 0.95},
            False,
            ["macro_f1_leaf"],
        ),
        (
            {"macro_f1_leaf": 0.80, "macro_f1_l1": 0.90},
            {"macro_f1_leaf": 0.70, "macro_f1_l1": 0.80},
            False,
            ["macro_f1_leaf", "macro_f1_l1"],
        ),
    ],
)
def test_the_rule(champion, challenger, passed, failing):
    decision = RULE.decide(champion, challenger)

    assert decision.passed is passed
    assert [check.metric for check in decision.checks if not check.passed] == failing
    assert "macro_f1_leaf" in decision.summary


def test_a_missing_metric_stops_the_gate():
    with pytest.raises(PromotionError, match="macro_f1_l1"):
        RULE.decide({"macro_f1_leaf": 0.8}, {"macro_f1_leaf": 0.9, "macro_f1_l1": 0.9})


# ---- against a real store ---------------------------------------------------------------------------
LEAVES = {  # leaf ids of the bundled taxonomy -> reports
    "城市管理/市容秩序/占道经营": [
        "小区门口有人占道摆摊卖水果",
        "路边流动摊贩堵住人行道",
        "早市摊位占了半条马路",
        "商铺把货架摆到人行道上",
    ],
    "城市管理/噪音扰民/社会生活噪音": [
        "楼上半夜装修电钻声很大",
        "广场舞音响声音太吵",
        "隔壁工地夜间施工噪音扰民",
        "酒吧音乐声吵得睡不着",
    ],
    "安全隐患/消防安全/消防通道堵塞": [
        "楼道里堆满杂物堵住消防通道",
        "消防车通道被私家车占用",
        "安全出口被纸箱堵死",
        "消防通道上停满电动车",
    ],
}


def tiny_dataset(taxonomy) -> pl.DataFrame:
    assert set(LEAVES) <= set(taxonomy.leaf_ids)
    rows = []
    start = datetime(2025, 1, 1)
    for repeat in range(6):
        for name, texts in LEAVES.items():
            for position, text in enumerate(texts):
                rows.append(
                    {
                        "text": f"{text}，第{repeat}次反映",
                        "leaf_id": name,
                        "reported_at": start + timedelta(hours=len(rows)),
                        "split": "test" if repeat == 5 else "train",
                        "note": position,
                    }
                )
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Version 1 (champion): a deliberately weak text model. Version 2 (challenger): a good one."""
    from training.train_text import train_text_model

    root = tmp_path_factory.mktemp("registry")
    taxonomy = load_taxonomy()
    data_path = root / "text.parquet"
    dataset = tiny_dataset(taxonomy)
    dataset.write_parquet(data_path)
    use_local_store(root, "gridsense-text")
    # weak, but better than always answering the most frequent leaf (else no version check passes it)
    weak = {"ngram_range": (1, 1), "max_features": 6, "min_df": 1, "calibration_cv": 2}
    good = {"ngram_range": (1, 2), "min_df": 1, "calibration_cv": 2}
    train_text_model(dataset, taxonomy, data_path, root, alias=CHAMPION, params=weak)
    train_text_model(dataset, taxonomy, data_path, root, alias=CHALLENGER, params=good)
    return root, data_path


@pytest.fixture
def client(store):
    from mlflow import MlflowClient

    root, _ = store
    use_local_store(root, "gridsense-text")
    return MlflowClient()


def aliases(client, name=TEXT_MODEL_NAME) -> dict[str, str]:
    return {alias: str(version) for alias, version in client.get_registered_model(name).aliases.items()}


def test_promotion_gate_refuses_a_worse_challenger_then_accepts_a_better_one(client, tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    # swap roles first: the good model (2) is champion, the weak one (1) challenges it
    client.set_registered_model_alias(TEXT_MODEL_NAME, CHAMPION, "2")
    client.set_registered_model_alias(TEXT_MODEL_NAME, CHALLENGER, "1")

    refused = promote(client, TEXT_MODEL_NAME, audit, "user:test")

    assert not refused.promoted and aliases(client)[CHAMPION] == "2"
    assert "not better on macro_f1_leaf" in refused.explanation
    assert "test split (12 reports)" in refused.comparison.eval_set
    assert refused.comparison.challenger["macro_f1_leaf"] < refused.comparison.champion["macro_f1_leaf"]

    client.set_registered_model_alias(TEXT_MODEL_NAME, CHAMPION, "1")
    client.set_registered_model_alias(TEXT_MODEL_NAME, CHALLENGER, "2")

    accepted = promote(client, TEXT_MODEL_NAME, audit, "user:test")

    assert accepted.promoted and not accepted.forced
    assert aliases(client)[CHAMPION] == "2" and aliases(client)[PREVIOUS_CHAMPION] == "1"
    tags = client.get_model_version(TEXT_MODEL_NAME, "2").tags
    assert tags["promotion_gate"] == "passed" and "better on macro_f1_leaf" in tags["promotion_evidence"]
    assert [(e["action"], e["outcome"]) for e in audit.read()] == [
        ("promote", "refused"),
        ("promote", "promoted"),
    ]

    # rollback moves the champion back (after the version checks), and the listing shows it
    result = rollback(client, TEXT_MODEL_NAME, audit, "user:test")
    assert (result.champion_before, result.champion) == ("2", "1") and aliases(client)[CHAMPION] == "1"
    assert "validation: accuracy_leaf" in result.evidence
    rows = {row.version: row for row in list_versions(client, TEXT_MODEL_NAME)}
    assert CHAMPION in rows["1"].aliases and CHALLENGER in rows["2"].aliases
    assert "test.macro_f1_leaf" in rows["1"].metrics
    with pytest.raises(PromotionError, match="no earlier champion"):
        rollback(client, TEXT_MODEL_NAME, audit, "user:test")


def test_force_needs_a_reason_and_records_it(client, tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    client.set_registered_model_alias(TEXT_MODEL_NAME, CHAMPION, "2")
    client.set_registered_model_alias(TEXT_MODEL_NAME, CHALLENGER, "1")

    with pytest.raises(PromotionError, match="--reason"):
        promote(client, TEXT_MODEL_NAME, audit, "user:test", force=True)
    forced = promote(client, TEXT_MODEL_NAME, audit, "user:test", force=True, reason="hotfix for 新分类")

    assert forced.promoted and forced.forced and aliases(client)[CHAMPION] == "1"
    tags = client.get_model_version(TEXT_MODEL_NAME, "1").tags
    assert tags["promotion_gate"] == "forced" and tags["promotion_reason"] == "hotfix for 新分类"
    assert audit.read()[-1]["outcome"] == "forced"


def test_nothing_to_promote_is_explained(client, tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    client.set_registered_model_alias(TEXT_MODEL_NAME, CHAMPION, "2")
    client.set_registered_model_alias(TEXT_MODEL_NAME, CHALLENGER, "2")

    with pytest.raises(PromotionError, match="already the champion"):
        promote(client, TEXT_MODEL_NAME, audit, "user:test")


# ---- risk: logged backtest metrics, same evaluation set required ---------------------------------------
def log_risk_version(client, params: dict, metrics: dict) -> str:
    import mlflow

    with mlflow.start_run(experiment_id=mlflow.set_experiment("risk-gate-test").experiment_id) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.log_text("placeholder", "model/MLmodel")
    if not client.search_registered_models(f"name = '{RISK_MODEL_NAME}'"):
        client.create_registered_model(RISK_MODEL_NAME)
    version = client.create_model_version(RISK_MODEL_NAME, f"{run.info.artifact_uri}/model", run.info.run_id)
    return str(version.version)


SAME_DATA = {
    "data.content_hash": "abc",
    "data.rows": "100",
    "split.test_from": "2025-10-06",
    "split.test_weeks": "13",
}


def risk_metrics(dispute: float, hazard: float) -> dict[str, float]:
    return {
        "model.dispute.average_precision": dispute,
        "model.hazard.average_precision": hazard,
        "last_week.dispute.average_precision": 0.1,
    }


def test_risk_gate_compares_backtests_on_the_same_data_only(client, tmp_path):
    """The comparison only: these versions are placeholders without a model, so the version check (tested
    in test_rollback.py and below) is replaced."""
    audit = AuditLog(tmp_path / "audit.jsonl")
    gate = compare_logged_risk_metrics

    def placeholders(client, name, version, champion):
        return "placeholder version: not checked"

    champion = log_risk_version(client, SAME_DATA, risk_metrics(0.40, 0.30))
    better = log_risk_version(client, SAME_DATA, risk_metrics(0.45, 0.30))
    other_data = log_risk_version(client, {**SAME_DATA, "data.content_hash": "def"}, risk_metrics(0.9, 0.9))
    client.set_registered_model_alias(RISK_MODEL_NAME, CHAMPION, champion)

    client.set_registered_model_alias(RISK_MODEL_NAME, CHALLENGER, other_data)
    with pytest.raises(PromotionError, match="does not say which panel"):  # cannot refit the champion there
        promote(client, RISK_MODEL_NAME, audit, "user:test", evaluator=gate, version_check=placeholders)
    assert aliases(client, RISK_MODEL_NAME)[CHAMPION] == champion

    client.set_registered_model_alias(RISK_MODEL_NAME, CHALLENGER, better)
    result = promote(client, RISK_MODEL_NAME, audit, "user:test", evaluator=gate, version_check=placeholders)

    assert result.promoted and aliases(client, RISK_MODEL_NAME)[CHAMPION] == better
    assert result.comparison.challenger["mean_average_precision"] == pytest.approx(0.375)


# ---- the version checks on real versions (issue 10, item 3) ---------------------------------------------
def register_text_version(classifier, sample, params: dict | None = None) -> str:
    """A version logged by hand, as a broken or an older registration would be."""
    import tempfile
    from pathlib import Path

    import mlflow

    from models.pyfunc import TEXT_ARTIFACT, TextClassifierModel, model_artifacts

    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run():
        mlflow.log_params(params or {})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=TextClassifierModel(),
            artifacts=model_artifacts(TEXT_ARTIFACT, classifier, Path(tmp), sample),
            pip_requirements=["scikit-learn"],
        )
    return str(mlflow.register_model(info.model_uri, TEXT_MODEL_NAME).version)


def test_the_version_checks_score_the_stored_sample_and_compare_taxonomies(client, tmp_path):
    import mlflow

    from core.settings import Settings
    from models.validation_sample import ValidationSample
    from promotion.champion_history import Entry, append
    from promotion.version_check import VersionRefused, default_version_check

    audit = AuditLog(tmp_path / "audit.jsonl")
    weak = mlflow.pyfunc.load_model(f"models:/{TEXT_MODEL_NAME}/1").unwrap_python_model()
    inflated = ValidationSample(
        "text", weak.validation_sample.rows, {"accuracy_leaf": 1.0, "macro_f1_leaf": 1.0}
    )
    sabotaged = register_text_version(weak.classifier, inflated)  # its sample claims scores it cannot reach
    unsampled = register_text_version(weak.classifier, None)
    other_taxonomy = register_text_version(
        weak.classifier, weak.validation_sample, {"taxonomy.fingerprint": "another-taxonomy"}
    )
    check = default_version_check(Settings(home=tmp_path))

    assert "validation: accuracy_leaf" in check(client, TEXT_MODEL_NAME, "2", "1")
    assert "taxonomy" in check(client, TEXT_MODEL_NAME, "2", "1")  # both trained on the bundled taxonomy
    with pytest.raises(VersionRefused, match="below the floor"):
        check(client, TEXT_MODEL_NAME, sabotaged, "2")
    with pytest.raises(VersionRefused, match="no validation sample"):
        check(client, TEXT_MODEL_NAME, unsampled, "2")
    with pytest.raises(VersionRefused, match="another taxonomy.*--migrate-taxonomy"):
        check(client, TEXT_MODEL_NAME, other_taxonomy, "2")
    migrating = default_version_check(Settings(home=tmp_path), migrate_taxonomy=True)
    assert "taxonomy migration" in migrating(
        client, TEXT_MODEL_NAME, other_taxonomy, "2"
    )  # asked for: allowed

    # a former champion that fails the checks now is refused by `rollback --to`
    client.set_registered_model_alias(TEXT_MODEL_NAME, CHAMPION, "2")
    append(client, TEXT_MODEL_NAME, Entry.now(sabotaged, "promote"), Entry.now("2", "promote"))
    with pytest.raises(PromotionError, match="below the floor"):
        rollback(client, TEXT_MODEL_NAME, audit, "user:test", to_version=sabotaged)
    assert aliases(client)[CHAMPION] == "2"
    assert client.get_model_version(TEXT_MODEL_NAME, sabotaged).tags["validation_check"].startswith("failed")


def test_models_command_lists_every_version_with_its_data_and_taxonomy(store, monkeypatch):
    """`gridsense models --json`: what each version was trained on, in full (the table wraps, never cuts)."""
    import json

    from typer.testing import CliRunner

    from cli.app import app

    root, data_path = store
    monkeypatch.setenv("GRIDSENSE_HOME", str(root))
    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = {(row["name"], row["version"]): row for row in json.loads(result.stdout)}
    assert {(TEXT_MODEL_NAME, "1"), (TEXT_MODEL_NAME, "2")} <= set(rows)  # other tests add versions
    for row in (rows[TEXT_MODEL_NAME, "1"], rows[TEXT_MODEL_NAME, "2"]):  # trained by the store fixture
        assert row["provenance"]["data.path"] == str(data_path)
        assert row["provenance"]["taxonomy.fingerprint"] == load_taxonomy().fingerprint
        assert len(row["provenance"]["data.content_hash"]) == 16

    wide = CliRunner().invoke(app, ["models"], env={"COLUMNS": "400"})
    assert wide.exit_code == 0 and load_taxonomy().fingerprint in wide.output, wide.output
    narrow = CliRunner().invoke(app, ["models"], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0 and "…" not in narrow.output  # wrapped, not cut
