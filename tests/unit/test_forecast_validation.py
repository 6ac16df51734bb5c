"""The batch forecast (issue 10, items 2 and 4 siblings): it refuses a risk champion that fails its stored
validation sample, and writes the table and the history whole (temporary file + rename, under a lock)."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest

from models.validation_sample import EXPECTED_PREFIX, ValidationFailed, ValidationSample

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def synthetic_panel() -> pl.DataFrame:
    """tests/model/test_risk_lgbm.py's panel, with the count columns the baselines read."""
    path = Path(__file__).parents[1] / "model" / "test_risk_lgbm.py"
    spec = importlib.util.spec_from_file_location("risk_panel_source", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    counts = [pl.col("cnt_dispute_4w").alias(f"cnt_{g}_{w}w") for g in ("dispute", "hazard") for w in (1, 52)]
    return module.synthetic_panel().drop("district").with_columns(counts)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from training.tracking import use_local_store
    from training.train_risk import train_risk_model

    root = tmp_path_factory.mktemp("risk")
    use_local_store(root, "gridsense-risk")
    panel = synthetic_panel()
    train_risk_model(panel, root / "panel.parquet", root, test_weeks=5, params={"n_estimators": 30})
    return root, panel


def test_the_forecast_writes_whole_files_with_a_checked_champion(trained):
    from batch.forecast import run_forecast

    root, panel = trained
    out = root / "forecasts" / "latest.parquet"

    table = run_forecast(panel, out)

    assert table.height > 0 and pl.read_parquet(out).height == table.height
    assert not [p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_champion_failing_its_sample_is_refused_before_anything_is_written(trained):
    import mlflow
    from mlflow import MlflowClient

    from batch.forecast import run_forecast
    from core.registry import RISK_MODEL_NAME
    from models.pyfunc import RISK_ARTIFACT, RiskForecasterModel, model_artifacts

    root, panel = trained
    good = mlflow.pyfunc.load_model(f"models:/{RISK_MODEL_NAME}@champion").unwrap_python_model()
    shifted = good.validation_sample.rows.with_columns(
        (pl.col(f"{EXPECTED_PREFIX}dispute") * 0.5).alias(f"{EXPECTED_PREFIX}dispute")
    )
    wrong = ValidationSample("risk", shifted, good.validation_sample.recorded)  # not what this model gives
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=RiskForecasterModel(),
            artifacts=model_artifacts(RISK_ARTIFACT, good.forecaster, Path(tmp), wrong),
            pip_requirements=["lightgbm"],
        )
    version = mlflow.register_model(info.model_uri, RISK_MODEL_NAME).version
    MlflowClient().set_registered_model_alias(RISK_MODEL_NAME, "champion", version)
    out = root / "refused" / "latest.parquet"

    with pytest.raises(ValidationFailed, match="differ from the recorded"):
        run_forecast(panel, out)

    assert not out.exists()
