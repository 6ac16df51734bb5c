"""The risk gate and `gridsense models` are generic over the risk groups a run's metrics hold (a site's
groups may be any names, 1..n), and a site's registered names follow their model's rule (issue 12)."""

from __future__ import annotations

import pytest

from core.audit import AuditLog
from core.registry import RISK_MODEL_NAME, TEXT_MODEL_NAME, site_model_name
from promotion.registry_ops import (
    CHALLENGER,
    CHAMPION,
    PROMOTION_RULES,
    PromotionError,
    compare_logged_risk_metrics,
    default_evaluator,
    key_metrics,
    list_versions,
    promote,
    rule_for,
)

RISK_RULE = PROMOTION_RULES[RISK_MODEL_NAME]


def view(**average_precision: float) -> dict[str, float]:
    """The gate's view of a run: `<group>.average_precision` and their mean."""
    metrics = {f"{group}.average_precision": value for group, value in average_precision.items()}
    metrics["mean_average_precision"] = sum(average_precision.values()) / len(average_precision)
    return metrics


def test_one_group_is_guarded_and_compared():
    decision = RISK_RULE.decide(view(theft=0.40), view(theft=0.45))
    assert decision.passed
    assert [check.metric for check in decision.checks] == [
        "mean_average_precision",
        "theft.average_precision",
    ]
    refused = RISK_RULE.decide(view(theft=0.40), view(theft=0.39))
    assert not refused.passed


def test_every_group_of_three_is_guarded():
    champion = view(noise=0.30, theft=0.50, fire=0.20)
    challenger = view(noise=0.60, theft=0.45, fire=0.20)  # better on the mean, worse on theft
    decision = RISK_RULE.decide(champion, challenger)
    assert not decision.passed
    assert [check.metric for check in decision.checks if not check.passed] == ["theft.average_precision"]
    guarded = {check.metric for check in decision.checks}
    assert guarded == {
        "mean_average_precision",
        *(f"{g}.average_precision" for g in ("noise", "theft", "fire")),
    }


def test_a_group_only_one_run_holds_stops_the_gate():
    with pytest.raises(PromotionError, match="fire.average_precision"):
        RISK_RULE.decide(view(theft=0.4, fire=0.2), view(theft=0.5))


def test_a_sites_names_follow_their_models_rule():
    assert rule_for(site_model_name(RISK_MODEL_NAME, "town")) is RISK_RULE
    assert rule_for(site_model_name(TEXT_MODEL_NAME, "town")) is PROMOTION_RULES[TEXT_MODEL_NAME]
    assert default_evaluator(site_model_name(RISK_MODEL_NAME, "town")) is compare_logged_risk_metrics
    with pytest.raises(PromotionError, match="no model GridSense promotes"):
        rule_for("someone-elses-model")


def test_key_metrics_are_the_groups_the_run_holds():
    metrics = {
        "model.theft.average_precision": 0.5,
        "model.theft.top10_share": 0.3,
        "last_week.theft.average_precision": 0.2,
        "model.theft.ece": 0.01,
    }
    shown = key_metrics(site_model_name(RISK_MODEL_NAME, "town"), metrics)
    assert shown == {"model.theft.average_precision": 0.5, "model.theft.top10_share": 0.3}


def test_a_one_group_site_risk_run_is_promoted_under_the_sites_name(tmp_path):
    """Logged backtests of a one-group site (placeholder versions: the version check is replaced)."""
    import mlflow
    from mlflow import MlflowClient

    from training.tracking import use_local_store

    use_local_store(tmp_path, "risk-groups-test")
    client, name = MlflowClient(), site_model_name(RISK_MODEL_NAME, "town")
    client.create_registered_model(name)
    same_data = {"data.content_hash": "abc", "data.rows": "9", "split.test_from": "2025-01-06"}

    def version(theft: float) -> str:
        with mlflow.start_run() as run:
            mlflow.log_params(same_data | {"split.test_weeks": "4"})
            mlflow.log_metrics({"model.theft.average_precision": theft, "model.theft.top10_share": 0.2})
            mlflow.log_text("placeholder", "model/MLmodel")
        made = client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id)
        return str(made.version)

    champion, worse, better = version(0.40), version(0.30), version(0.50)
    client.set_registered_model_alias(name, CHAMPION, champion)
    audit = AuditLog(tmp_path / "audit.jsonl")

    def placeholders(client, name, version, champion):
        return "placeholder version: not checked"

    def run_gate():
        return promote(client, name, audit, "user:test", version_check=placeholders)

    client.set_registered_model_alias(name, CHALLENGER, worse)
    assert not run_gate().promoted
    client.set_registered_model_alias(name, CHALLENGER, better)
    result = run_gate()
    assert result.promoted and result.comparison.challenger["mean_average_precision"] == pytest.approx(0.5)
    rows = list_versions(client, name, "town")
    assert [row.version for row in rows] == [better, worse, champion]
    assert rows[0].site == "town" and CHAMPION in rows[0].aliases
    assert rows[0].metrics == {"model.theft.average_precision": 0.5, "model.theft.top10_share": 0.2}
