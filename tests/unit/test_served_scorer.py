"""The served scorer: chosen on earlier weeks among the model, history baselines and blends; the forecast
table's expected events, relative risk and scorer; the benchmark's headroom share."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from models.served_scorer import (
    BLEND,
    MODEL,
    ScorerChoice,
    ServedRiskScorer,
    choose_scorer,
    log_share,
)

N_UNITS, N_WEEKS = 200, 12


def planted(model_noise: float, hotspot_noise: float, seed: int = 0) -> pl.DataFrame:
    """Rows of the selection layout: counts drawn from a true rate; the model and the hotspot see the
    true rate times log-normal noise of the given size; the 52-week mean is pure noise."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.8, 1.5, N_UNITS)
    frames = []
    for week in range(N_WEEKS):
        counts = rng.poisson(rate)
        frames.append(
            pl.DataFrame(
                {
                    "week_start": [date(2024, 1, 1) + timedelta(weeks=week)] * N_UNITS,
                    MODEL: rate * np.exp(model_noise * rng.standard_normal(N_UNITS)),
                    "hotspot": rate * np.exp(hotspot_noise * rng.standard_normal(N_UNITS)),
                    "mean_52w": rng.gamma(0.8, 1.5, N_UNITS),
                    "n": counts.astype(float),
                    "y": (counts > 0).astype(np.int8),
                }
            )
        )
    return pl.concat(frames)


@pytest.mark.parametrize("criterion", ["log_share", "ranking"])
def test_the_baseline_is_chosen_where_it_wins(criterion):
    choice, scores = choose_scorer(planted(model_noise=3.0, hotspot_noise=0.0), criterion=criterion)
    assert choice == ScorerChoice("hotspot", 1.0) and choice.scorer == "hotspot"
    assert scores["hotspot"] > scores[MODEL]


@pytest.mark.parametrize("criterion", ["log_share", "ranking"])
def test_the_model_is_chosen_where_it_wins(criterion):
    choice, scores = choose_scorer(planted(model_noise=0.0, hotspot_noise=3.0), criterion=criterion)
    assert choice == ScorerChoice() and choice.scorer == MODEL
    assert scores[MODEL] > scores["hotspot"] and scores[MODEL] > scores["mean_52w"]


def test_two_equally_noisy_views_are_blended_with_a_weight_in_0_1():
    choice, _ = choose_scorer(planted(model_noise=0.8, hotspot_noise=0.8, seed=3))
    assert choice.scorer == BLEND and choice.baseline == "hotspot"
    assert 0.0 < choice.weight < 1.0
    rate = choice.rate(np.array([1.0, 3.0]), {"hotspot": np.array([3.0, 1.0]), "mean_52w": np.zeros(2)})
    assert rate == pytest.approx(
        [(1 - choice.weight) + 3 * choice.weight, 3 * (1 - choice.weight) + choice.weight]
    )


def test_a_choice_outside_the_simplex_or_unknown_is_refused():
    with pytest.raises(ValueError, match="weight"):
        ScorerChoice("hotspot", 1.5)
    with pytest.raises(ValueError, match="baseline"):
        ScorerChoice("kde", 0.5)
    assert ScorerChoice().scorer == MODEL and ScorerChoice("mean_52w", 0.3).label == "blend(mean_52w, 0.3)"
    assert choose_scorer(planted(0, 0).clear())[0] == ScorerChoice()  # nothing to choose on: the model


def test_log_share_by_hand():
    # all 3 events in unit 0, whose share is 2/4: mean log-probability per event log(0.5)
    assert log_share(np.array([2.0, 1.0, 1.0]), np.array([3, 0, 0])) == pytest.approx(np.log(0.5))
    assert np.isnan(log_share(np.ones(3), np.zeros(3)))
    assert np.isfinite(log_share(np.array([0.0, 1.0]), np.array([1, 0])))  # floored, not -inf


# ---- the served estimator on a real (tiny) forecaster ---------------------------------------------------
def tiny_panel(seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    units, weeks = 40, 30
    rate = rng.gamma(1.0, 1.0, units)
    rows = []
    for w in range(weeks):
        counts = rng.poisson(rate)
        for u in range(units):
            rows.append(
                {
                    "grid_id": f"g{u:02d}",
                    "week_start": date(2024, 1, 1) + timedelta(weeks=w),
                    "cnt_dispute_52w": float(rate[u] * min(w, 52) + rng.normal(0, 0.5)),
                    "ewm_dispute_h13": float(rate[u] * rng.uniform(0.8, 1.2)),
                    "attr": float(rng.normal()),
                    "n_dispute": int(counts[u]),
                    "y_dispute": int(counts[u] > 0),
                }
            )
    return pl.DataFrame(rows)


def test_served_scorer_scores_probabilities_and_names_with_the_choice(tmp_path):
    import mlflow

    from models.pyfunc import save_risk_model
    from models.risk_lgbm import RiskForecaster

    panel = tiny_panel()
    forecaster = RiskForecaster(
        groups=("dispute",),
        objective="poisson",
        n_estimators=20,
        n_jobs=1,
        valid_weeks=4,
        calibration_weeks=4,
    ).fit(panel)
    served = ServedRiskScorer(forecaster, {"dispute": ScorerChoice("hotspot", 0.5)}).fit(panel)
    assert served.scorers() == {"dispute": BLEND}
    expected = served.expected_events(panel)["dispute"]
    model_rate = forecaster.predict_score(panel)["dispute"]
    assert expected == pytest.approx(0.5 * model_rate + 0.5 * panel["ewm_dispute_h13"].to_numpy())
    probability = served.predict_proba(panel)["dispute"]
    assert ((probability >= 0) & (probability <= 1)).all()
    assert "dispute" in served.calibrators_
    loaded = mlflow.pyfunc.load_model(str(save_risk_model(forecaster, tmp_path / "m", served=served)))
    assert loaded.unwrap_python_model().served.scorers() == {"dispute": BLEND}
    assert loaded.predict(panel.to_pandas())["p_dispute"].to_numpy() == pytest.approx(probability)
    model_only = ServedRiskScorer(forecaster).fit(panel)
    assert model_only.scorers() == {"dispute": MODEL}
    assert model_only.predict_proba(panel)["dispute"] == pytest.approx(
        forecaster.predict_proba(panel)["dispute"]
    )


def test_forecast_table_has_expected_events_relative_risk_and_scorer():
    from batch.forecast import forecast_table
    from models.risk_lgbm import RiskForecaster

    panel = tiny_panel()
    forecaster = RiskForecaster(
        groups=("dispute",),
        objective="poisson",
        n_estimators=20,
        n_jobs=1,
        valid_weeks=4,
        calibration_weeks=4,
    ).fit(panel)
    served = ServedRiskScorer(forecaster, {"dispute": ScorerChoice("hotspot", 1.0)}).fit(panel)
    table = forecast_table(panel, forecaster, "7", labels={}, served=served)
    assert {"expected_events", "relative_risk", "scorer"} <= set(table.columns)
    assert table.schema["expected_events"] == pl.Float64 and table.schema["scorer"] == pl.String
    assert table["scorer"].unique().to_list() == ["hotspot"]
    assert table["relative_risk"].mean() == pytest.approx(1.0)
    latest = panel.filter(pl.col("week_start") == panel["week_start"].max())
    top = latest.sort("ewm_dispute_h13", descending=True)["grid_id"][0]
    assert table.filter(pl.col("rank") == 1)["grid_id"][0] == top  # ranked by the served score
    legacy = forecast_table(panel, forecaster, "7", labels={})  # a version without a served scorer
    assert legacy["scorer"].unique().to_list() == [MODEL]
    assert legacy["expected_events"].to_numpy() == pytest.approx(
        np.sort(forecaster.predict_score(latest)["dispute"])[::-1]
    )


def test_the_report_scores_served_and_its_headroom_share():
    from evaluation.risk_benchmark import headroom_share, headroom_summary, markdown_summary

    comparison = {
        "dispute": {
            "hit_5": {
                "best_baseline": "mean_52w",
                "baseline": 0.20,
                "model": 0.19,
                "ratio": 0.95,
                "served": 0.21,
                "served_ratio": 1.05,
            },
        }
    }
    ceiling = {"dispute": {"oracle_rate": {"hit_5": {"value": 0.22, "ratio_to_best_baseline": 1.1}}}}
    headroom = headroom_summary(comparison, ceiling)["dispute"]["hit_5"]
    assert headroom["served_share"] == pytest.approx(0.5) and headroom["model_share"] == pytest.approx(-0.5)
    assert np.isnan(headroom_share(0.3, 0.2, 0.2))
    report = {
        "adapter": "tiny",
        "test_from": "a",
        "test_to": "b",
        "test_weeks": ["a"],
        "units": 3,
        "retrain_every": 1,
        "comparison": comparison,
        "headroom": {"dispute": {"hit_5": headroom}},
        "metrics": {"dispute": {"served": {"ece_pooled": 0.01}}},
        "served_choices": [{"group": "dispute", "label": "hotspot"}, {"group": "dispute", "label": "model"}],
    }
    text = markdown_summary(report)
    assert "hit_5 50% / -50%" in text and "hotspot x1, model x1" in text and "0.0100" in text


@pytest.mark.slow
def test_train_risk_logs_the_served_choice_with_the_model(tmp_path):
    import mlflow

    from core.registry import RISK_EXPERIMENT
    from evaluation.panel_speed import synthetic_log
    from features.panel import PanelOptions, build_panel
    from training.tracking import use_local_store
    from training.train_risk import train_risk_model

    log, grids = synthetic_log(events=4_000, units=30, weeks=40, seed=5)
    panel = build_panel(log, grids, options=PanelOptions(holiday_country=None))
    use_local_store(tmp_path, RISK_EXPERIMENT)
    result = train_risk_model(
        panel, tmp_path / "panel.parquet", tmp_path, test_weeks=6, alias=None, params={"n_estimators": 30}
    )
    run = mlflow.get_run(result.run_id)
    groups = [g for g in ("dispute", "hazard") if f"model.{g}.average_precision" in result.metrics]
    assert run.data.tags["served_scorer"] == run.data.params["served_scorer"]
    for group in groups:
        assert run.data.params[f"served_scorer.{group}"] in ("model", "hotspot", "mean_52w", "blend")
        assert 0.0 <= float(run.data.params[f"served_scorer.{group}.weight"]) <= 1.0
        assert f"served.{group}.hit_5" in result.metrics
    loaded = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model").unwrap_python_model()
    assert set(loaded.served.scorers()) == set(groups)


def test_the_map_draws_relative_risk_when_the_busy_cells_are_all_near_certain():
    from batch.forecast import default_map_metric

    # a dense city: a quiet edge (half the cells unlikely) but every busy cell near-certain
    expected = np.r_[np.linspace(3, 12, 10), np.full(10, 0.1)]
    dense = pl.DataFrame(
        {"group": ["d"] * 20, "expected_events": expected, "probability": 1 - np.exp(-expected)}
    )
    assert dense["probability"].median() < 0.9 and default_map_metric(dense) == "relative"
    sparse = dense.with_columns(pl.col("expected_events") / 30, pl.col("probability") / 5)
    assert default_map_metric(sparse) == "probability"
    no_expected = sparse.with_columns(pl.lit(None, pl.Float64).alias("expected_events"))
    assert (
        default_map_metric(no_expected) == "probability"
        and default_map_metric(dense.clear()) == "probability"
    )
