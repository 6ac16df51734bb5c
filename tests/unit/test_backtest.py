"""Hit rate and PAI by hand, and the rolling-origin backtest on a tiny synthetic log."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from evaluation.backtest import BASELINES, MODEL, SERVED, BacktestSpec, run_backtest, select_test_weeks
from evaluation.risk_benchmark import last_complete_week, markdown_summary
from features.panel import PanelOptions, build_panel
from models.scoring import area_share, hit_rate, pai


def test_hit_rate_and_pai_by_hand():
    scores = np.arange(20, 0, -1, dtype=float)  # unit 0 ranks first
    counts = np.zeros(20)
    counts[[0, 1, 5, 19]] = [3, 1, 4, 2]  # 10 events
    assert hit_rate(scores, counts, 0.05) == pytest.approx(3 / 10)  # top 1 unit
    assert hit_rate(scores, counts, 0.10) == pytest.approx(4 / 10)  # top 2 units
    assert area_share(20, 0.05) == pytest.approx(0.05)
    assert pai(scores, counts, 0.10) == pytest.approx((4 / 10) / 0.10)
    assert area_share(30, 0.05) == pytest.approx(2 / 30)  # ceil(1.5) = 2 units
    tied = np.ones(20)
    assert hit_rate(tied, counts, 0.05) == pytest.approx(1 / 20)  # a tie spreads the slot evenly
    assert np.isnan(hit_rate(scores, np.zeros(20), 0.05))


def test_last_complete_week():
    events = pl.DataFrame({"reported_at": [datetime(2017, 9, 30, 23, 0)]})  # a Saturday
    assert last_complete_week(events) == date(2017, 9, 18)
    events = pl.DataFrame({"reported_at": [datetime(2017, 10, 1, 8, 0)]})  # a Sunday
    assert last_complete_week(events) == date(2017, 9, 25)


# ---- the backtest ---------------------------------------------------------------------------------------
N_UNITS, N_WEEKS = 30, 40
START = date(2024, 1, 1)


@pytest.fixture(scope="module")
def panel_and_units():
    rng = np.random.default_rng(4)
    rate = rng.gamma(1.2, 0.8, N_UNITS)  # weekly disputes per unit
    rows = []
    for week in range(N_WEEKS):
        counts = rng.poisson(rate)
        for unit in np.flatnonzero(counts):
            for _ in range(counts[unit]):
                at = datetime.combine(START, datetime.min.time()) + timedelta(
                    weeks=week, hours=int(rng.integers(0, 167))
                )
                rows.append((f"u{unit:02d}", at, "dispute"))
    events = pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "reported_at": [r[1] for r in rows],
            "grid_id": [r[0] for r in rows],
            "category_l1": ["fight"] * len(rows),
            "risk_group": [r[2] for r in rows],
        },
        schema_overrides={"reported_at": pl.Datetime("us")},
    )
    units = pl.DataFrame(
        {
            "grid_id": [f"u{u:02d}" for u in range(N_UNITS)],
            "x_m": np.arange(N_UNITS) * 1000.0,
            "y_m": np.zeros(N_UNITS),
        }
    )
    return build_panel(events, units, neighbours_k=2, options=PanelOptions(holiday_country=None)), units


def test_backtest_trains_on_the_past_only_and_scores_every_scorer(panel_and_units):
    panel, units = panel_and_units
    spec = BacktestSpec(
        test_from=START + timedelta(weeks=30),
        test_to=START + timedelta(weeks=35, days=6),
        retrain_every=2,
        groups=("dispute",),
        model_params={"n_estimators": 30, "n_jobs": 1, "calibration_weeks": 4, "valid_weeks": 4},
    )
    result = run_backtest(panel, units, spec)
    weeks = [START + timedelta(weeks=w) for w in range(30, 36)]
    assert select_test_weeks(panel, spec) == weeks
    assert [f.first_week for f in result.folds] == weeks[::2]
    # every fold trained on weeks strictly before its first test week
    assert all(f.train_rows == N_UNITS * ((f.first_week - START).days // 7 - 1) for f in result.folds)
    assert set(result.predictions["scorer"].unique()) == {MODEL, SERVED, *BASELINES}
    assert result.predictions.height == len(weeks) * N_UNITS * (2 + len(BASELINES))
    assert result.weekly.height == len(weeks) * (2 + len(BASELINES))
    assert [c["first_week"] for c in result.choices] == [str(w) for w in weeks[::2]]
    summary = result.summary()["dispute"]
    assert summary[MODEL]["hit_5"] > 0 and 0 <= summary[MODEL]["ece_pooled"] <= 1
    comparison = result.comparison()["dispute"]
    for metric in ("hit_5", "ap", "brier"):
        best = comparison[metric]["best_baseline"]
        assert comparison[metric]["baseline"] == pytest.approx(summary[best][metric])
        assert comparison[metric]["ratio"] == pytest.approx(summary[MODEL][metric] / summary[best][metric])
    assert comparison["hit_5"]["served"] == pytest.approx(summary[SERVED]["hit_5"])  # never a baseline
    others = [summary[name]["hit_5"] for name in BASELINES]
    assert comparison["hit_5"]["baseline"] == pytest.approx(max(others))
    assert comparison["brier"]["baseline"] == pytest.approx(min(summary[name]["brier"] for name in BASELINES))


def test_markdown_summary_renders_the_comparison(panel_and_units):
    panel, units = panel_and_units
    spec = BacktestSpec(
        test_from=START + timedelta(weeks=36),
        retrain_every=4,
        groups=("dispute",),
        model_params={"n_estimators": 20, "n_jobs": 1, "calibration_weeks": 4, "valid_weeks": 4},
    )
    result = run_backtest(panel, units, spec)
    report = {
        "adapter": "tiny",
        "test_from": "a",
        "test_to": "b",
        "test_weeks": ["a"],
        "units": N_UNITS,
        "retrain_every": 4,
        "comparison": result.comparison(),
    }
    text = markdown_summary(report)
    assert "| hit_5 |" in text and "### dispute" in text


def test_ceilings_bound_every_scorer(panel_and_units):
    from evaluation.backtest import ceilings

    panel, units = panel_and_units
    spec = BacktestSpec(
        test_from=START + timedelta(weeks=30),
        retrain_every=5,
        groups=("dispute",),
        model_params={"n_estimators": 20, "n_jobs": 1, "calibration_weeks": 4, "valid_weeks": 4},
    )
    result = run_backtest(panel, units, spec)
    bounds = ceilings(result)["dispute"]
    summary = result.summary()["dispute"]
    assert bounds["oracle_actual"]["hit_5"] >= max(m["hit_5"] for m in summary.values())
    assert bounds["oracle_actual"]["ap"] == pytest.approx(1.0)  # the actual counts rank every positive first
    assert 0 < bounds["oracle_rate"]["hit_5"] <= bounds["oracle_actual"]["hit_5"]
    # without the week's own events the oracle knows less: never above the one that has them (on average)
    assert 0 < bounds["oracle_rate_loo"]["hit_5"] <= bounds["oracle_rate"]["hit_5"] + 1e-9
