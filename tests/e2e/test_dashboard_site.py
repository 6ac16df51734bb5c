"""The dashboard of a site that is not the demo city, in headless Chromium: one risk group named by the
site, English labels, the map drawing expected events by default and the scorer beside the forecast;
and a three-group Chinese site whose toggle shows its groups. Tables and forecasts are written here
(no models), the app is the real one. Screenshots go to tests/e2e/artifacts/site-*.png.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from batch.dashboard_tables import grid_table
from core.keys import KeyFile, Role
from core.settings import Settings
from core.tables import GRIDS_FILE, REPORTS_FILE, SITE_FILE, WEEKLY_FILE
from serving.deps import get_resources
from serving.forecast_store import ForecastStore
from serving.main import create_app
from serving.resources import Resources
from tests.e2e.conftest import VIEWPORT, FixedRegistry, _free_port

pytestmark = pytest.mark.slow

SIDE = 12  # a 12 x 12 city of 1 km cells
FORECAST_WEEK = date(2026, 11, 30)
WEEKS = 12
SITES = {
    "chicago": {"site": "chicago", "language": "en", "groups": [{"id": "crime", "label": "Crimes"}],
                "map_metric": "expected"},
    "three": {"site": "three", "language": "zh", "map_metric": "probability",
              "groups": [{"id": "noise", "label": "噪音扰民"}, {"id": "fire", "label": "消防隐患"},
                         {"id": "flood", "label": "积水内涝"}]},
}  # fmt: skip


def cells() -> pl.DataFrame:
    ids = [f"C{row:02d}{col:02d}" for row in range(SIDE) for col in range(SIDE)]
    return pl.DataFrame(
        {
            "grid_id": ids,
            "district": ["North" if int(i[1:3]) >= SIDE // 2 else "South" for i in ids],
            "x_m": [1000.0 * int(i[3:]) for i in ids],
            "y_m": [1000.0 * int(i[1:3]) for i in ids],
        }
    )


def expected(grid: str, g: int) -> float:
    """A hotspot per group, a dense city: several events a week near it."""
    row, col = int(grid[1:3]), int(grid[3:])
    centre = (3 + 3 * g, 8 - 2 * g)
    return 0.4 + 9 * math.exp(-((row - centre[0]) ** 2 + (col - centre[1]) ** 2) / 12)


def forecasts(site: dict) -> pl.DataFrame:
    rows = []
    for g, group in enumerate(item["id"] for item in site["groups"]):
        values = {grid: expected(grid, g) for grid in cells()["grid_id"]}
        mean = sum(values.values()) / len(values)
        for rank, (grid, mu) in enumerate(sorted(values.items(), key=lambda kv: -kv[1]), start=1):
            rows.append({"grid_id": grid, "group": group, "probability": 1 - math.exp(-mu), "rank": rank,
                         "expected_events": mu, "relative_risk": mu / mean, "scorer": "hotspot"})  # fmt: skip
    return pl.DataFrame(rows).with_columns(
        week_start=pl.lit(FORECAST_WEEK),
        model_name=pl.lit("gridsense-risk-chicago"),
        model_version=pl.lit("4"),
    )


def write_tables(folder, site: dict) -> None:
    """The dashboard tables as the forecast job writes them for a site: counts per group, reports
    without a text model (confidence null)."""
    folder.mkdir(parents=True)
    grids = cells()
    grid_table(grids).write_parquet(folder / GRIDS_FILE)
    groups = [item["id"] for item in site["groups"]]
    weeks = [FORECAST_WEEK - timedelta(weeks=w) for w in range(WEEKS, 0, -1)]
    weekly = [
        {"grid_id": grid, "week_start": week, "category_l1": "THEFT",
         **{f"n_{group}": int(expected(grid, g) * (0.6 + 0.1 * (w % 5))) for g, group in enumerate(groups)}}
        for grid in grids["grid_id"] for w, week in enumerate(weeks)
    ]  # fmt: skip
    pl.DataFrame(weekly).with_columns(n_events=pl.sum_horizontal(f"n_{g}" for g in groups)).write_parquet(
        folder / WEEKLY_FILE
    )
    pl.DataFrame(
        {"event_id": ["E1", "E2"], "grid_id": ["C0308"] * 2,
         "reported_at": [datetime(2026, 11, 27, 22, 5), datetime(2026, 11, 26, 14, 30)],
         "channel": [None, None], "status": [None, None], "title": [None, None],
         "text": ["RETAIL THEFT", "OVER $500"], "category_l1": ["THEFT"] * 2, "category_l2": ["THEFT"] * 2,
         "category_l3": ["RETAIL THEFT", "OVER $500"], "leaf_id": ["THEFT/RETAIL THEFT", "THEFT/OVER $500"],
         "department": [None, None], "risk_group": [groups[0]] * 2, "confidence": [None, None],
         "needs_review": [None, None]},
        schema_overrides={"channel": pl.String, "status": pl.String, "title": pl.String,
                          "department": pl.String, "confidence": pl.Float64, "needs_review": pl.Boolean},
    ).write_parquet(folder / REPORTS_FILE)  # fmt: skip
    meta = {"first_week": weeks[0].isoformat(), "forecast_week": FORECAST_WEEK.isoformat(), "weeks": WEEKS}
    (folder / "meta.json").write_text(json.dumps(meta))
    (folder / SITE_FILE).write_text(json.dumps(site, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module", params=sorted(SITES))
def site_server(request, tmp_path_factory, chromium_path) -> Iterator[tuple[str, str, dict]]:
    """(base url, supervisor key, site) of the real app serving the site's tables and forecasts."""
    import uvicorn

    site = SITES[request.param]
    root = tmp_path_factory.mktemp(f"site-{request.param}")
    write_tables(root / "serving", site)
    settings = Settings(home=root, dashboard_tables_dir=root / "serving", reload_interval_seconds=0,
                        keys_refresh_seconds=0, log_level="WARNING", rate_limit_supervisor="")  # fmt: skip
    key = KeyFile(settings.api_keys_path).create(Role.SUPERVISOR, label="e2e").key
    app = create_app(settings)
    resources = Resources.fixed(registry=FixedRegistry(), forecast_store=ForecastStore(forecasts(site)))
    app.dependency_overrides[get_resources] = lambda: resources
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"site-{request.param}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}", key, site
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def site_page(browser, site_server):
    base_url, key, site = site_server
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    tab.goto(f"{base_url}/dashboard")
    tab.fill("#api-key", key)
    tab.press("#api-key", "Enter")
    tab.wait_for_selector("#top-body tr[data-grid-id]")
    tab.wait_for_selector("#map svg path")
    tab.wait_for_load_state("networkidle")
    yield tab, site
    context.close()


def test_the_site_draws_with_its_groups_language_and_metric(site_page, artifacts):
    page, site = site_page
    labels = [group["label"] for group in site["groups"]]

    assert page.eval_on_selector("html", "html => html.lang") == (
        "en" if site["language"] == "en" else "zh-CN"
    )
    assert page.locator("#map svg path").count() == SIDE * SIDE
    assert page.get_attribute("#map", "data-metric") == site["map_metric"]
    assert labels[0] in page.text_content("#legend-title")
    toggle = page.locator("#group-toggle")
    assert toggle.is_visible() == (len(labels) > 1)
    if len(labels) > 1:
        assert page.locator("#group-toggle label").all_text_contents() == labels
    assert page.locator("#metric-toggle").is_visible()  # the forecasts carry expected events
    page.screenshot(path=str(artifacts / f"site-{site['site']}-overview.png"))
    assert page.problems == []


def test_an_english_site_speaks_english(site_page):
    page, site = site_page
    if site["language"] != "en":
        pytest.skip("a Chinese site")

    assert page.text_content("#tab-overview") == "Risk overview"
    assert "Crimes: expected events next week" == page.text_content("#legend-title")
    assert page.text_content("#metric-header") == "Expected events"
    assert "Scored by: hotspot baseline" in page.text_content("#forecast-week")
    assert "Crimes risk" in page.text_content("#top-title")

    page.click("label[for=metric-probability]")
    page.wait_for_selector("#map[data-metric=probability]")
    assert page.text_content("#legend-title") == "Crimes: probability next week"
    assert page.text_content("#metric-header") == "Probability"


def test_the_group_toggle_switches_between_the_sites_groups(site_page):
    page, site = site_page
    if len(site["groups"]) < 3:
        pytest.skip("one group: no toggle")
    fills = page.eval_on_selector_all("#map svg path", "paths => paths.map(p => p.getAttribute('fill'))")

    page.click("label[for=group-flood]")
    page.wait_for_selector("#map[data-group=flood]")
    assert "积水内涝" in page.text_content("#legend-title") and "积水内涝" in page.text_content("#top-title")
    assert (
        page.eval_on_selector_all("#map svg path", "paths => paths.map(p => p.getAttribute('fill'))") != fills
    )


def test_reports_without_a_text_model_show_no_confidence(site_page, artifacts):
    page, site = site_page

    page.locator("#top-body tr[data-grid-id]").first.locator("button").press("Enter")  # opens the top grid
    page.wait_for_selector("#grid-detail:not([hidden])")
    page.evaluate("""() => document.querySelector('#tab-overview').click()""")
    page.evaluate("""() => { const rows = [...document.querySelectorAll('#top-body tr[data-grid-id]')];
        rows.find(r => r.dataset.gridId === 'C0308')?.click(); }""")
    page.wait_for_selector("#grid-detail[data-grid-id=C0308] #reports-body tr")
    confidence = page.locator("#reports-body tr").first.locator("td").last.text_content()
    assert confidence == "—"
    assert page.locator("#grid-risk-now [data-group]").count() == len(site["groups"])
    page.wait_for_selector("#chart-history svg")
    page.wait_for_selector("#chart-activity svg")
    page.screenshot(path=str(artifacts / f"site-{site['site']}-grid.png"), full_page=True)
    assert page.problems == []
