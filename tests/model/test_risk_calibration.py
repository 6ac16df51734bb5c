"""Calibration and count objectives of the risk forecaster."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from models.calibration import ProbabilityCalibrator
from models.risk_lgbm import RiskForecaster
from models.scoring import expected_calibration_error


def test_calibration_repairs_an_overconfident_score():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.02, 0.6, 20_000)
    outcome = (rng.random(truth.size) < truth).astype(int)
    overconfident = np.clip(truth * 1.6, 0, 1)  # says 48% when it is 30%
    fit, test = slice(0, 10_000), slice(10_000, None)
    before = expected_calibration_error(overconfident[test], outcome[test])
    for method in ("isotonic", "platt"):
        calibrated = (
            ProbabilityCalibrator(method).fit(overconfident[fit], outcome[fit]).predict(overconfident[test])
        )
        after = expected_calibration_error(calibrated, outcome[test])
        assert before > 0.08
        assert after < 0.02, method
        # monotone: the calibrated probabilities never reorder the scores
        order = np.argsort(overconfident[test], kind="stable")
        assert np.all(np.diff(calibrated[order]) >= -1e-12)


def test_platt_maps_expected_counts_to_probabilities():
    rng = np.random.default_rng(1)
    mu = rng.gamma(1.0, 1.0, 20_000)
    outcome = (rng.poisson(mu) > 0).astype(int)
    calibrated = ProbabilityCalibrator("platt").fit(mu, outcome).predict(mu)
    assert expected_calibration_error(np.minimum(mu, 1), outcome) > 0.1  # a count is no probability
    assert expected_calibration_error(calibrated, outcome) < 0.03
    np.testing.assert_allclose(calibrated, 1 - np.exp(-mu), atol=0.08)


def test_calibrator_edge_cases():
    constant = ProbabilityCalibrator("platt").fit(np.array([0.1, 0.5]), np.array([0, 0]))
    np.testing.assert_array_equal(constant.predict(np.array([0.9])), [0.0])
    with pytest.raises(ValueError, match="method"):
        ProbabilityCalibrator("beta").fit(np.array([0.1]), np.array([1]))


# ---- inside the forecaster -------------------------------------------------------------------------------
N_GRIDS, N_WEEKS = 200, 40


def count_panel(seed: int = 0) -> pl.DataFrame:
    """Counts ~ Poisson(exp(signal)); `y` is count >= 1. Last week unlabelled."""
    rng = np.random.default_rng(seed)
    n = N_GRIDS * N_WEEKS
    signal = rng.normal(size=n)
    counts = rng.poisson(np.exp(0.8 * signal - 0.5))
    weeks = [date(2025, 1, 6) + timedelta(weeks=w) for w in range(N_WEEKS)]
    frame = pl.DataFrame(
        {
            "grid_id": np.repeat([f"G{g:03d}" for g in range(N_GRIDS)], N_WEEKS),
            "week_start": [weeks[w] for w in np.tile(np.arange(N_WEEKS), N_GRIDS)],
            "n_dispute": counts,
            "y_dispute": (counts > 0).astype(np.int8),
            "signal": signal,
            "noise": rng.normal(size=n),
        }
    )
    last = pl.col("week_start") == weeks[-1]
    return frame.with_columns(pl.when(~last).then(pl.col(c)).alias(c) for c in ("n_dispute", "y_dispute"))


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return count_panel()


def test_poisson_objective_predicts_expected_counts_and_calibrated_probabilities(panel):
    cut = date(2025, 1, 6) + timedelta(weeks=30)
    train, test = panel.filter(pl.col("week_start") < cut), panel.filter(pl.col("week_start") >= cut)
    test = test.filter(pl.col("y_dispute").is_not_null())
    model = RiskForecaster(
        groups=("dispute",), objective="poisson", calibration="platt", n_estimators=150, n_jobs=1
    )
    model.fit(train)
    expected = model.predict_score(test)["dispute"]
    counts = test["n_dispute"].to_numpy()
    assert expected.mean() == pytest.approx(counts.mean(), rel=0.15)
    assert spearmanr(expected, test["signal"].to_numpy()).statistic > 0.9
    probability = model.predict_proba(test)["dispute"]
    assert probability.min() >= 0 and probability.max() <= 1
    assert expected_calibration_error(probability, test["y_dispute"].to_numpy()) < 0.05
    assert model.objectives_ == {"dispute": "poisson"}


def test_the_calibration_window_is_later_than_and_disjoint_from_training(panel, monkeypatch):
    seen: dict[str, list] = {}
    original = RiskForecaster._train

    def spy(self, data, group, rounds, valid=None):
        seen.setdefault("train", []).append(data["week_start"].max())
        if valid is not None:
            seen.setdefault("valid", []).append((valid["week_start"].min(), valid["week_start"].max()))
        return original(self, data, group, rounds, valid)

    monkeypatch.setattr(RiskForecaster, "_train", spy)
    labelled = panel.filter(pl.col("y_dispute").is_not_null())
    model = RiskForecaster(groups=("dispute",), n_estimators=30, valid_weeks=5, calibration_weeks=6, n_jobs=1)
    model.fit(labelled)
    last = labelled["week_start"].max()
    first_calibration_week = last - timedelta(weeks=5)
    assert max(seen["train"]) < first_calibration_week
    assert seen["valid"][0][1] < first_calibration_week
    assert "dispute" in model.calibrators_


def test_objective_per_group_and_bad_objective(panel):
    hazard = panel.with_columns(pl.col("n_dispute").alias("n_hazard"), pl.col("y_dispute").alias("y_hazard"))
    model = RiskForecaster(objective={"dispute": "tweedie"}, n_estimators=20, n_jobs=1, calibration=None)
    model.fit(hazard, feature_columns=["signal", "noise"])
    assert model.objectives_ == {"dispute": "tweedie", "hazard": "binary"}
    uncalibrated = model.predict_proba(hazard.head(10))
    np.testing.assert_allclose(
        uncalibrated["dispute"], 1 - np.exp(-model.predict_score(hazard.head(10))["dispute"])
    )
    with pytest.raises(ValueError, match="objective"):
        RiskForecaster(objective="gamma", n_jobs=1).fit(hazard, feature_columns=["signal"])
