"""A weekly risk retrain on newer data is promoted without --force when it is not worse; a worse
configuration is refused (issue 12). The gate refits the champion's configuration on the challenger's panel
and scores both on the challenger's test weeks."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from core.audit import AuditLog
from core.registry import CHALLENGER, CHAMPION, RISK_EXPERIMENT, RISK_MODEL_NAME
from evaluation.panel_speed import synthetic_log
from features.panel import build_panel
from promotion.registry_ops import promote
from training.tracking import use_local_store
from training.train_risk import train_risk_model

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
TEST_WEEKS = 6


@pytest.fixture(scope="module")
def panels(tmp_path_factory):
    """The same city: a panel up to four weeks ago, and the panel with those four weeks added."""
    root = tmp_path_factory.mktemp("retrain")
    log, grids = synthetic_log(events=30_000, units=60, weeks=60, seed=3)
    newer = build_panel(log, grids)
    last = newer.get_column("week_start").max()
    older = newer.filter(pl.col("week_start") <= last - timedelta(weeks=4))
    paths = root / "older.parquet", root / "newer.parquet"
    older.write_parquet(paths[0])
    newer.write_parquet(paths[1])
    return root, (older, paths[0]), (newer, paths[1])


def champion(client) -> str:
    return str(client.get_model_version_by_alias(RISK_MODEL_NAME, CHAMPION).version)


def test_weekly_retrain_is_promoted_and_a_worse_configuration_refused(panels, tmp_path):
    from mlflow import MlflowClient

    root, (older, older_path), (newer, newer_path) = panels
    use_local_store(root, RISK_EXPERIMENT)
    client, audit = MlflowClient(), AuditLog(tmp_path / "audit.jsonl")
    train_risk_model(older, older_path, root, test_weeks=TEST_WEEKS, alias=CHAMPION)

    retrain = train_risk_model(newer, newer_path, root, test_weeks=TEST_WEEKS, alias=CHALLENGER)
    result = promote(client, RISK_MODEL_NAME, audit, "user:test")
    assert result.promoted and not result.forced, result.explanation
    assert result.comparison.retrain and "refitted" in result.comparison.eval_set
    assert champion(client) == retrain.model_version

    worse = {"n_estimators": 3, "learning_rate": 0.01, "num_leaves": 2, "early_stopping_rounds": 0}
    train_risk_model(newer, newer_path, root, test_weeks=TEST_WEEKS, alias=CHALLENGER, params=worse)
    refused = promote(client, RISK_MODEL_NAME, audit, "user:test")
    assert not refused.promoted, refused.explanation
    assert champion(client) == retrain.model_version
