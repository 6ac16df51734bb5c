"""GET /v1/risk?week=: past weeks served from the forecast history, `available_weeks`, duplicates."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from serving import forecast_store
from serving.errors import UnknownWeekError
from serving.forecast_store import ForecastStore

from .conftest import forecast_table

LATEST = date(2026, 1, 12)  # the table's week (conftest.forecast_table)
DOUBLE = date(2026, 1, 5)  # the history has a backtest and a batch forecast of this week
PAST = date(2025, 12, 29)  # a backtest week
EARLY = [PAST - timedelta(weeks=k) for k in range(8, 0, -1)]  # 2025-11-03 .. 2025-12-22: old rows of G0001
ALL_WEEKS = [LATEST, DOUBLE, PAST, *reversed(EARLY)]

# week PAST: G0004 is not forecast yet, G0005 (no longer in the latest table) is; ranks differ from LATEST's
PAST_PROBABILITIES = {
    "dispute": {"G0001": 0.80, "G0002": 0.10, "G0003": 0.30, "G0005": 0.50},  # ranks 1, 4, 3, 2
    "hazard": {"G0001": 0.20, "G0002": 0.40, "G0003": 0.70, "G0005": 0.10},  # ranks 3, 2, 1, 4
}
PAST_COUNTS = {"dispute": 3, "hazard": 0}  # what happened that week, every grid


def _rows(week: date, probabilities: dict, source: str | None, version: str | None) -> list[dict]:
    rows = []
    for group, by_grid in probabilities.items():
        ranked = sorted(by_grid, key=lambda grid: -by_grid[grid])
        for grid, probability in by_grid.items():
            rank = ranked.index(grid) + 1
            rows.append(
                {
                    "grid_id": grid,
                    "week_start": week,
                    "group": group,
                    "probability": probability,
                    "rank": rank,
                    "level": {1: "高", 2: "中"}.get(rank, "低"),
                    "model_name": "gridsense-risk",
                    "model_version": version,
                    "source": source,
                    "actual_count": None if week >= DOUBLE else PAST_COUNTS[group],
                }
            )
    return rows


def _table_week(week: date) -> dict[str, dict[str, float]]:
    frame = forecast_table().filter(pl.col("week_start") == week)
    return {
        group: dict(zip(part["grid_id"], part["probability"], strict=True))
        for (group,), part in frame.partition_by("group", as_dict=True).items()
    }


def history_table(forecast_first: bool = True) -> pl.DataFrame:
    """Old rows without version or source, a backtest week, a week twice (batch forecast and backtest, in
    the given order) and the latest week, as `gridsense forecast` appends it."""
    early = [
        {
            "grid_id": "G0001",
            "week_start": week,
            "group": group,
            "probability": 0.01 * (i + 1),
            "rank": 1,
            "level": None,
            "model_name": None,
            "model_version": None,
            "source": None,
            "actual_count": i,
        }
        for i, week in enumerate(EARLY)
        for group in ("dispute", "hazard")
    ]
    forecast = _rows(DOUBLE, _table_week(DOUBLE), "forecast", "4")  # dispute 0.05 0.35 0.20 0.10
    flipped = {
        group: {g: round(0.9 - p, 2) for g, p in ps.items()} for group, ps in _table_week(DOUBLE).items()
    }
    backtest = _rows(DOUBLE, flipped, "backtest", "backtest")
    double = forecast + backtest if forecast_first else backtest + forecast
    rows = [
        *early,
        *_rows(PAST, PAST_PROBABILITIES, "backtest", "backtest"),
        *double,
        *_rows(LATEST, _table_week(LATEST), "forecast", "5"),
    ]
    return pl.DataFrame(rows, schema_overrides={"actual_count": pl.Int32})


@pytest.fixture
def store() -> ForecastStore:  # overrides conftest's: the same table, with a history
    return ForecastStore(forecast_table(), history_table())


def risks_of(grid: dict) -> dict[str, tuple]:
    return {r["group"]: (r["probability"], r["rank"], r["level"], r["model_version"]) for r in grid["risks"]}


def get_week(client, week: date, **params):
    response = client.get("/v1/risk", params={"week": week.isoformat(), **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_available_weeks_are_every_servable_week_newest_first(client):
    body = client.get("/v1/risk").json()

    assert body["available_weeks"] == [week.isoformat() for week in ALL_WEEKS]
    assert body["week_start"] == LATEST.isoformat()
    for week in ALL_WEEKS:
        assert client.get("/v1/risk", params={"week": week.isoformat(), "top": 1}).status_code == 200


def test_without_a_history_only_the_latest_week_is_available(forecasts):
    assert ForecastStore(forecasts).available_weeks == (LATEST,)


def test_a_past_week_is_served_from_its_history_rows(client):
    response = client.get("/v1/risk", params={"week": PAST.isoformat()})
    assert response.status_code == 200, response.text
    body = response.json()

    assert body["week_start"] == PAST.isoformat()
    assert body["model"] == {"name": "gridsense-risk", "version": "backtest"}
    assert response.headers["X-Model-Version"] == "backtest"
    assert body["available_weeks"][0] == LATEST.isoformat()
    # best rank per grid: G0001 (dispute 1), G0003 (hazard 1), then rank 2 by id: G0002 (hazard), G0005
    assert [grid["grid_id"] for grid in body["grids"]] == ["G0001", "G0003", "G0002", "G0005"]
    by_id = {grid["grid_id"]: grid for grid in body["grids"]}
    assert risks_of(by_id["G0001"]) == {
        "dispute": (pytest.approx(0.80), 1, "高", "backtest"),
        "hazard": (pytest.approx(0.20), 3, "低", "backtest"),
    }
    assert risks_of(by_id["G0005"]) == {
        "dispute": (pytest.approx(0.50), 2, "中", "backtest"),
        "hazard": (pytest.approx(0.10), 4, "低", "backtest"),
    }
    assert (by_id["G0001"]["district"], by_id["G0005"]["district"]) == ("朝阳区", None)  # from the table
    risk = by_id["G0001"]["risks"][0]
    assert (risk["model_name"], risk["drivers"], risk["contributions"]) == ("gridsense-risk", [], None)


def test_a_past_weeks_trend_ends_with_that_week(client):
    grids = get_week(client, PAST, grid_id="G0001", group="dispute")["grids"]
    trend = grids[0]["risks"][0]["trend"]

    # 8 points: the last 7 old weeks and PAST itself, nothing later, oldest first
    assert [point["week_start"] for point in trend] == [w.isoformat() for w in [*EARLY[1:], PAST]]
    assert trend[0] == {
        "week_start": EARLY[1].isoformat(),
        "probability": pytest.approx(0.02),
        "rank": 1,
        "level": None,
        "actual_count": 1,
    }
    assert (trend[-1]["probability"], trend[-1]["rank"], trend[-1]["actual_count"]) == (
        pytest.approx(0.80),
        1,
        3,
    )
    g0005 = get_week(client, PAST, grid_id="G0005", group="hazard")["grids"][0]["risks"][0]
    assert [(p["week_start"], p["actual_count"]) for p in g0005["trend"]] == [(PAST.isoformat(), 0)]


def test_group_and_top_on_a_past_week(client):
    body = get_week(client, PAST, group="hazard", top=2)
    assert (body["group"], body["top"]) == ("hazard", 2)
    assert [(g["grid_id"], [r["rank"] for r in g["risks"]]) for g in body["grids"]] == [
        ("G0003", [1]),
        ("G0002", [2]),
    ]

    tops = get_week(client, PAST, top=1)["grids"]
    assert {g["grid_id"]: [r["group"] for r in g["risks"]] for g in tops} == {
        "G0001": ["dispute"],
        "G0003": ["hazard"],
    }


def test_grid_ids_on_a_past_week(client, assert_error):
    grids = get_week(client, PAST, grid_id=["G0005", "G0001", "G0005"])["grids"]
    assert [grid["grid_id"] for grid in grids] == ["G0005", "G0001"]  # the order asked for

    # G0004 is in the latest table but was not forecast that week: left out, as a filtered grid is
    assert [g["grid_id"] for g in get_week(client, PAST, grid_id=["G0004", "G0003"])["grids"]] == ["G0003"]

    response = client.get("/v1/risk", params={"week": PAST.isoformat(), "grid_id": ["G0001", "G9999"]})
    assert assert_error(response, 404, "unknown_grid", "grid_id")["unknown_ids"] == ["G9999"]
    # G0005 is known in its week only
    response = client.get("/v1/risk", params={"week": LATEST.isoformat(), "grid_id": "G0005"})
    assert assert_error(response, 404, "unknown_grid", "grid_id")["unknown_ids"] == ["G0005"]


@pytest.mark.parametrize("week", [date(2026, 1, 19), date(2025, 12, 30), date(2024, 1, 1)])
def test_a_week_without_forecasts_is_404_naming_the_available_weeks(client, assert_error, week):
    response = client.get("/v1/risk", params={"week": week.isoformat()})

    error = assert_error(response, 404, "unknown_week", "week")
    assert error["available_weeks"] == [w.isoformat() for w in ALL_WEEKS]
    assert week.isoformat() in error["message"]


@pytest.mark.parametrize("forecast_first", [True, False])
def test_a_week_forecast_twice_is_served_from_the_batch_forecast(forecast_first):
    store = ForecastStore(forecast_table(), history_table(forecast_first))

    grids = store.get(week=DOUBLE)

    assert store.model_of(DOUBLE).version == "4"
    g0001 = next(grid for grid in grids if grid["grid_id"] == "G0001")
    assert [(r["group"], r["probability"], r["rank"], r["model_version"]) for r in g0001["risks"]] == [
        ("dispute", pytest.approx(0.05), 4, "4"),  # the backtest row says 0.85, rank 1
        ("hazard", pytest.approx(0.25), 2, "4"),
    ]
    assert sum(len(grid["risks"]) for grid in grids) == 8  # one row per grid and group
    assert [p["week_start"] for p in g0001["risks"][0]["trend"]].count(DOUBLE) == 1
    assert g0001["risks"][0]["trend"][-1]["probability"] == pytest.approx(0.05)


def test_of_two_rows_of_the_same_source_the_later_one_wins():
    row = _rows(PAST, {"dispute": {"G0001": 0.30}}, "backtest", "backtest")[0]
    history = pl.DataFrame([row, {**row, "probability": 0.60}, {**row, "probability": 0.40}])

    [grid] = ForecastStore(forecast_table(), history).get(["G0001"], week=PAST)

    assert grid["risks"][0]["probability"] == pytest.approx(0.40)


def test_a_week_whose_rows_have_no_version_serves_null(client):
    response = client.get("/v1/risk", params={"week": EARLY[-1].isoformat()})
    assert response.status_code == 200, response.text
    body = response.json()

    assert body["model"] == {"name": "gridsense-risk", "version": None}  # name: the latest table's
    assert response.headers["X-Model-Version"] == "unknown"
    [grid] = body["grids"]
    assert [(r["model_name"], r["model_version"], r["level"]) for r in grid["risks"]] == [
        ("gridsense-risk", None, None)
    ] * 2


def test_the_latest_week_is_served_from_the_table_as_before(client, forecasts):
    body = client.get("/v1/risk").json()

    assert client.get("/v1/risk", params={"week": LATEST.isoformat()}).json() == body
    assert body["model"] == {"name": "gridsense-risk", "version": "5"}
    without_history = ForecastStore(forecasts).get()
    assert body["grids"] == [
        {**grid, "risks": [{**risk, "contributions": None} for risk in grid["risks"]]}
        for grid in without_history
    ]


def test_past_weeks_are_built_on_first_use_and_cached(monkeypatch, store):
    assert store._weeks == {}  # nothing built with the store
    store.get()
    assert store._weeks == {}  # nor for the latest week
    first = store._week(PAST)
    assert store._week(PAST) is first

    monkeypatch.setattr(forecast_store, "WEEK_CACHE_SIZE", 2)
    store._week(DOUBLE)
    store._week(EARLY[0])  # PAST, the least recently used, is dropped
    assert list(store._weeks) == [DOUBLE, EARLY[0]]
    assert store._week(PAST) is not first
    with pytest.raises(UnknownWeekError):
        store.get(week=date(2025, 12, 30))
