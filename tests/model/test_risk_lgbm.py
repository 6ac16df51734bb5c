"""RiskForecaster on a small synthetic panel where the label depends on one feature."""

from __future__ import annotations

import pickle
from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone

from models.risk_lgbm import RiskForecaster, default_feature_columns
from models.scoring import average_precision

N_GRIDS, N_WEEKS = 60, 40
# One thread: OpenMP threads spin-wait, and on a busy 2-core machine two threads are ~50x slower.


def synthetic_panel(seed: int = 0) -> pl.DataFrame:
    """Keys, labels (the last week unlabelled, like the forecast week) and features: y_dispute depends on
    `signal`, y_hazard on `hazard_signal`; `noise` is irrelevant, `district` is text."""
    rng = np.random.default_rng(seed)
    n = N_GRIDS * N_WEEKS
    weeks = [date(2025, 1, 6) + timedelta(weeks=w) for w in range(N_WEEKS)]
    signal = rng.normal(size=n)
    hazard_signal = rng.normal(size=n)
    y_dispute = (rng.random(n) < 1 / (1 + np.exp(-(2.5 * signal - 1.0)))).astype(np.int8)
    y_hazard = (rng.random(n) < 1 / (1 + np.exp(-(2.5 * hazard_signal - 1.5)))).astype(np.int8)
    week_index = np.tile(np.arange(N_WEEKS), N_GRIDS)
    frame = pl.DataFrame(
        {
            "grid_id": np.repeat([f"G{g:03d}" for g in range(N_GRIDS)], N_WEEKS),
            "week_start": [weeks[w] for w in week_index],
            "n_dispute": y_dispute * rng.integers(1, 4, size=n),
            "n_hazard": y_hazard,
            "y_dispute": y_dispute,
            "y_hazard": y_hazard,
            "signal": signal.astype(np.float32),
            "hazard_signal": hazard_signal,
            "noise": rng.normal(size=n),
            "cnt_dispute_4w": rng.integers(0, 5, size=n),
            "old_compound": rng.random(n) < 0.3,
            "district": rng.choice(["朝阳区", "海淀区"], size=n),
        }
    )
    unlabelled = pl.col("week_start") == weeks[-1]
    labels = ("n_dispute", "n_hazard", "y_dispute", "y_hazard")
    return frame.with_columns(pl.when(~unlabelled).then(pl.col(name)).alias(name) for name in labels)


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return synthetic_panel()


@pytest.fixture(scope="module")
def split(panel):
    cut = panel.get_column("week_start").unique().sort()[30]
    return panel.filter(pl.col("week_start") < cut), panel.filter(pl.col("week_start") >= cut)


@pytest.fixture(scope="module")
def fitted(split) -> RiskForecaster:
    return RiskForecaster(n_estimators=100, n_jobs=1).fit(split[0])


def test_default_features_exclude_keys_labels_and_text(panel):
    assert default_feature_columns(panel) == [
        "signal",
        "hazard_signal",
        "noise",
        "cnt_dispute_4w",
        "old_compound",
    ]


def test_beats_random_on_later_weeks(fitted, split):
    test = split[1].filter(pl.col("y_dispute").is_not_null())
    probabilities = fitted.predict_proba(test)
    for group in ("dispute", "hazard"):
        positives = test.get_column(f"y_{group}").to_numpy() == 1
        assert probabilities[group].shape == (test.height,)
        assert average_precision(probabilities[group], positives) > positives.mean() + 0.2


def test_fitted_attributes(fitted, panel):
    assert fitted.feature_columns_ == default_feature_columns(panel)
    assert set(fitted.models_) == {"dispute", "hazard"}
    assert all(1 <= fitted.best_iterations_[g] <= 100 for g in ("dispute", "hazard"))
    assert fitted.models_["dispute"].num_trees() == fitted.best_iterations_["dispute"]


def test_deterministic_across_fits_with_two_threads(split):
    def fit_and_predict():
        model = RiskForecaster(groups=("dispute",), n_estimators=8, valid_weeks=0, n_jobs=2)
        return model.fit(split[0]).predict_proba(split[1])["dispute"]

    np.testing.assert_array_equal(fit_and_predict(), fit_and_predict())


def test_explicit_validation_panel_and_feature_columns(split):
    train, valid = split
    model = RiskForecaster(groups=("dispute",), n_estimators=50, n_jobs=1).fit(
        train, valid_panel=valid, feature_columns=["signal", "noise"]
    )
    assert model.feature_columns_ == ["signal", "noise"] and list(model.models_) == ["dispute"]
    importance = dict(
        zip(model.feature_columns_, model.models_["dispute"].feature_importance("gain"), strict=True)
    )
    assert importance["signal"] > importance["noise"]


def test_contributions_add_up_to_the_margin(fitted, split):
    rows = split[1].head(25)
    contributions = fitted.contributions(rows, "dispute")
    assert contributions.shape == (25, len(fitted.feature_columns_) + 1)
    probability = fitted.predict_score(rows)["dispute"]  # the booster's own (uncalibrated) probability
    np.testing.assert_allclose(contributions.sum(axis=1), np.log(probability / (1 - probability)), rtol=1e-6)


def test_pandas_input_matches_polars(fitted, split):
    rows = split[1].head(30)
    from_pandas = fitted.predict_proba(rows.to_pandas())
    from_polars = fitted.predict_proba(rows)
    np.testing.assert_allclose(from_pandas["hazard"], from_polars["hazard"])


def test_missing_feature_column_is_an_error(fitted, split):
    with pytest.raises(ValueError, match="signal"):
        fitted.predict_proba(split[1].drop("signal"))


def test_sklearn_params_and_pickle(fitted, split):
    assert clone(fitted).get_params()["n_estimators"] == 100
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(
        restored.predict_proba(split[1])["dispute"], fitted.predict_proba(split[1])["dispute"]
    )


def test_pyfunc_round_trip(fitted, split, tmp_path):
    import mlflow

    from models.pyfunc import RiskForecasterModel, save_risk_model

    frame = split[1].head(20).to_pandas()
    expected = RiskForecasterModel.predict_with(fitted, frame)
    loaded = mlflow.pyfunc.load_model(str(save_risk_model(fitted, tmp_path / "risk-model")))
    result = loaded.predict(frame)
    assert list(result.columns) == ["p_dispute", "p_hazard"]
    pd.testing.assert_frame_equal(result, expected)
    np.testing.assert_array_equal(result["p_hazard"].to_numpy(), fitted.predict_proba(frame)["hazard"])
