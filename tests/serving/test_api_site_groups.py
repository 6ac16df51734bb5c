"""Any site's risk groups through the API: /v1/site, 1 and 3 groups, new forecast columns, null confidence."""

from __future__ import annotations

import json
from datetime import date, datetime

import polars as pl
import pytest
from fastapi.testclient import TestClient

from batch.dashboard_tables import build_dashboard_tables, site_description
from core.tables import GRIDS_FILE, REPORTS_FILE, SITE_FILE, WEEKLY_FILE
from serving.deps import get_resources
from serving.forecast_store import ForecastStore
from serving.resources import Resources
from tests.serving.conftest import FakeRegistry

WEEK = date(2026, 1, 12)
GRIDS = ["C1", "C2", "C3"]


def forecasts(groups: list[str], scorer: str | None = "hotspot") -> pl.DataFrame:
    """Three grids, one week; group i's expected events grow with the grid number, times i + 1."""
    rows = []
    for g, group in enumerate(groups):
        for n, grid in enumerate(GRIDS, start=1):
            expected = float(n * (g + 1))
            rows.append({"grid_id": grid, "group": group, "probability": 1 - 0.5**expected,
                         "expected_events": expected, "relative_risk": n / 2.0, "rank": 4 - n})  # fmt: skip
    table = pl.DataFrame(rows).with_columns(
        week_start=pl.lit(WEEK), model_name=pl.lit("gridsense-risk"), model_version=pl.lit("3")
    )
    return (
        table.with_columns(scorer=pl.lit(scorer))
        if scorer
        else table.drop("expected_events", "relative_risk")
    )


def write_tables(folder, groups: list[str], site: dict | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {"grid_id": GRIDS, "district": ["North"] * 3, "x_m": [0.0, 1e3, 2e3], "y_m": [0.0] * 3}
    ).write_parquet(folder / GRIDS_FILE)
    weekly = pl.DataFrame(
        {"grid_id": ["C1", "C2"], "week_start": [date(2026, 1, 5)] * 2, "category_l1": ["THEFT"] * 2,
         "n_events": [3, 1], **{f"n_{group}": [i + 1, 0] for i, group in enumerate(groups)}}
    )  # fmt: skip
    weekly.write_parquet(folder / WEEKLY_FILE)
    pl.DataFrame(
        {"event_id": ["E1"], "grid_id": ["C1"], "reported_at": [datetime(2026, 1, 6, 9)], "channel": [None],
         "status": [None], "title": [None], "text": ["(no text)"], "category_l1": ["THEFT"],
         "category_l2": ["THEFT"], "category_l3": ["$500 AND UNDER"], "leaf_id": ["THEFT/$500 AND UNDER"],
         "department": [None], "risk_group": [groups[0]], "confidence": [None], "needs_review": [None]},
        schema_overrides={"channel": pl.String, "status": pl.String, "title": pl.String,
                          "department": pl.String, "confidence": pl.Float64, "needs_review": pl.Boolean},
    ).write_parquet(folder / REPORTS_FILE)  # fmt: skip
    (folder / "meta.json").write_text(json.dumps({"first_week": "2026-01-05", "forecast_week": "2026-01-12"}))
    if site is not None:
        (folder / SITE_FILE).write_text(json.dumps(site), encoding="utf-8")


@pytest.fixture
def serve(app, settings, api_keys):
    """serve(groups, site, scorer) -> a supervisor client of the app serving those tables."""

    def make(groups: list[str], site: dict | None, scorer: str | None = "hotspot") -> TestClient:
        write_tables(settings.dashboard_tables_dir, groups, site)
        loaded = Resources.fixed(
            registry=FakeRegistry(), forecast_store=ForecastStore(forecasts(groups, scorer))
        )
        app.dependency_overrides[get_resources] = lambda: loaded
        return TestClient(app, headers={"X-API-Key": api_keys["supervisor"]})

    yield make
    app.dependency_overrides.clear()


CHICAGO = {"site": "chicago", "language": "en", "groups": [{"id": "crime", "label": "Crimes"}],
           "map_metric": "expected"}  # fmt: skip


def test_one_group_site_serves_its_description_groups_and_scores(serve, assert_error):
    client = serve(["crime"], CHICAGO)

    assert client.get("/v1/site").json() == {**CHICAGO, "source": "file"}
    risk = client.get("/v1/risk").json()
    assert risk["groups"] == ["crime"] and risk["scorers"] == {"crime": "hotspot"}
    top = risk["grids"][0]
    assert top["grid_id"] == "C3"
    assert top["risks"] == [
        top["risks"][0]
        | {"group": "crime", "expected_events": 3.0, "relative_risk": 1.5, "scorer": "hotspot"}
    ]
    assert client.get("/v1/risk", params={"group": "crime", "top": 1}).json()["grids"][0]["grid_id"] == "C3"
    error = assert_error(client.get("/v1/risk", params={"group": "dispute"}), 422, "unknown_group", "group")
    assert error["valid_groups"] == ["crime"] and "crime" in error["message"]
    history = client.get("/v1/risk/C1/history", params={"group": "hazard"})
    assert_error(history, 422, "unknown_group", "group")


def test_one_group_activity_has_only_that_group_and_reports_may_lack_confidence(serve):
    client = serve(["crime"], CHICAGO)

    assert client.get("/v1/grids").json()["groups"] == ["crime"]
    weekly = {row["grid_id"]: row for row in client.get("/v1/grids/weekly?weeks=1").json()["grids"]}
    assert weekly["C1"]["groups"] == {"crime": [1]} and weekly["C1"]["total"] == [3]
    assert weekly["C3"]["groups"] == {"crime": [0]}
    assert weekly["C1"]["dispute"] is None and weekly["C1"]["hazard"] is None
    activity = client.get("/v1/grids/C3/activity").json()
    assert activity["groups"] == {"crime": [0]} and activity["categories"] == []
    report = client.get("/v1/grids/C1/reports").json()["reports"][0]
    assert report["confidence"] is None and report["needs_review"] is None and report["department"] is None
    assert report["risk_group"] == "crime"


def test_three_groups_without_a_site_file_get_a_default_site(serve, settings):
    client = serve(["noise", "flood", "dispute"], None, scorer=None)

    site = client.get("/v1/site").json()
    assert site == {
        "site": settings.site,
        "language": settings.language,
        "groups": [{"id": "dispute", "label": "矛盾纠纷" if settings.language == "zh" else "Disputes"},
                   {"id": "flood", "label": "flood"}, {"id": "noise", "label": "noise"}],
        "map_metric": "probability",
        "source": "default",
    }  # fmt: skip
    risk = client.get("/v1/risk").json()
    assert risk["groups"] == ["dispute", "flood", "noise"] and risk["scorers"] == {}
    assert {r["group"] for r in risk["grids"][0]["risks"]} == {"dispute", "flood", "noise"}
    assert all(r["expected_events"] is None and r["scorer"] is None for r in risk["grids"][0]["risks"])
    weekly = {row["grid_id"]: row for row in client.get("/v1/grids/weekly?weeks=1").json()["grids"]}
    assert weekly["C1"]["groups"] == {"noise": [1], "flood": [2], "dispute": [3]}
    assert weekly["C1"]["dispute"] == [3] and weekly["C1"]["hazard"] is None


def test_the_default_site_speaks_the_configured_language(app, settings, api_keys, serve):
    settings.language = "en"
    client = serve(["dispute", "hazard"], None)

    assert client.get("/v1/site").json()["groups"] == [
        {"id": "dispute", "label": "Disputes"},
        {"id": "hazard", "label": "Safety hazards"},
    ]


@pytest.mark.parametrize(
    "site", [{"site": "x", "language": "fr", "groups": [{"id": "a", "label": "A"}], "map_metric": "expected"},
             {"site": "x", "language": "en", "groups": [], "map_metric": "expected"}],
)  # fmt: skip
def test_a_broken_site_file_is_503_naming_it(serve, assert_error, site):
    error = assert_error(serve(["a"], site).get("/v1/site"), 503, "not_ready", None)
    assert SITE_FILE in error["message"]


def test_the_site_needs_a_dashboard_role(serve, api_keys, assert_error):
    client = serve(["crime"], CHICAGO)

    assert_error(client.get("/v1/site", headers={"X-API-Key": api_keys["intake"]}), 403, "forbidden", None)
    assert client.get("/v1/site", headers={"X-API-Key": api_keys["data_scientist"]}).status_code == 200


def test_past_weeks_serve_the_history_scores_when_it_has_them():
    past = date(2026, 1, 5)
    history = forecasts(["crime"]).with_columns(week_start=pl.lit(past), source=pl.lit("forecast"))
    history = history.with_columns(
        scorer=pl.when(pl.col("grid_id") == "C1").then(pl.lit("model")).otherwise(pl.lit("blend"))
    )
    store = ForecastStore(forecasts(["crime"]), history)

    assert store.scorers_of(past) == {"crime": "blend"}  # the scorer of most rows
    risk = store.get(grid_ids=["C2"], week=past)[0]["risks"][0]
    assert (risk["expected_events"], risk["relative_risk"], risk["scorer"]) == (2.0, 1.0, "blend")
    assert store.history_of("C1")[0]["expected_events"] == 1.0
    old = ForecastStore(forecasts(["crime"]), history.drop("expected_events", "relative_risk", "scorer"))
    assert old.scorers_of(past) == {} and old.get(grid_ids=["C2"], week=past)[0]["risks"][0]["scorer"] is None


def test_an_unknown_expected_count_is_null_not_an_error(serve):
    client = serve(["crime"], CHICAGO)
    table = forecasts(["crime"]).with_columns(relative_risk=pl.lit(float("nan")))

    risks = ForecastStore(table).get(grid_ids=["C1"])[0]["risks"]
    assert risks[0]["relative_risk"] is None and risks[0]["expected_events"] == 1.0
    assert client.get("/v1/risk").status_code == 200


def test_the_activity_counts_the_sites_groups_in_its_order(serve):
    three = {"site": "x", "language": "zh", "map_metric": "probability",
             "groups": [{"id": "flood", "label": "积水"}, {"id": "noise", "label": "噪音"}]}  # fmt: skip
    client = serve(["noise", "flood", "dispute"], three)  # n_dispute: counted, but not one of the site's

    assert client.get("/v1/grids").json()["groups"] == ["flood", "noise"]
    row = client.get("/v1/grids/weekly?weeks=1").json()["grids"][0]
    assert list(row["groups"]) == ["flood", "noise"] and row["dispute"] is None


def test_tables_of_the_batch_step_for_a_one_group_log_without_texts_are_served(app, settings, api_keys):
    events = pl.DataFrame(
        {"event_id": ["E1", "E2", "E3"], "grid_id": ["C1", "C1", "C2"],
         "reported_at": [datetime(2026, 1, 5, 9), datetime(2026, 1, 6, 9), datetime(2026, 1, 7, 9)],
         "category_l1": ["THEFT"] * 3, "category_l2": ["THEFT"] * 3, "category_l3": ["RETAIL THEFT"] * 3,
         "leaf_id": ["THEFT/RETAIL THEFT"] * 3, "department": ["Police"] * 3, "risk_group": ["crime"] * 3,
         "text": [""] * 3}
    )  # fmt: skip
    grids = pl.DataFrame({"grid_id": GRIDS, "x_m": [0.0, 1e3, 2e3], "y_m": [0.0] * 3})
    site = site_description("chicago", "en", ["crime"])
    build_dashboard_tables(events, grids, None, weeks=4, site=site).write(settings.dashboard_tables_dir)
    loaded = Resources.fixed(registry=FakeRegistry(), forecast_store=ForecastStore(forecasts(["crime"])))
    app.dependency_overrides[get_resources] = lambda: loaded
    client = TestClient(app, headers={"X-API-Key": api_keys["supervisor"]})

    assert client.get("/v1/site").json() == {**site, "source": "file"}
    assert client.get("/v1/grids/C1/activity").json()["groups"] == {"crime": [0, 0, 0, 2]}
    reports = client.get("/v1/grids/C1/reports").json()
    assert reports["model"] is None  # no text model classified them
    report = reports["reports"][0]
    assert (report["confidence"], report["category_source"], report["risk_group"]) == (None, "log", "crime")
    app.dependency_overrides.clear()
