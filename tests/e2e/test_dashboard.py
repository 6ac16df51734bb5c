"""The supervisor dashboard in headless Chromium, against the real app on a small generated city.

Screenshots of the main views go to tests/e2e/artifacts/ (git-ignored). With
GRIDSENSE_UPDATE_README_SCREENSHOT=1 the overview is also written, palette-compressed, to
docs/img/dashboard.png for the README.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import httpx
import pytest

from core.keys import Role
from serving.auth import ROLE_PERMISSIONS, Permission

pytestmark = pytest.mark.slow

README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
HAZARD_REPORT = "楼道里堆满杂物，消防通道被堵死了"
TOP_N = 20


# ---- helpers -----------------------------------------------------------------------------------------
def open_dashboard(page, base_url: str, key: str) -> None:
    page.goto(f"{base_url}/dashboard")
    page.fill("#api-key", key)
    page.press("#api-key", "Enter")
    page.wait_for_selector("#top-body tr[data-grid-id]")
    page.wait_for_selector("#map svg path")
    # the map is redrawn as each API answer arrives: let them all land before clicking on its shapes
    page.wait_for_load_state("networkidle")


def key_with(world, permission: Permission) -> str:
    """The supervisor's key if the role has the permission, else a data scientist's."""
    role = Role.SUPERVISOR if permission in ROLE_PERMISSIONS[Role.SUPERVISOR] else Role.DATA_SCIENTIST
    return world.keys[role]


def top_rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#top-body tr[data-grid-id]",
        """rows => rows.map(row => ({
            grid_id: row.dataset.gridId,
            probability: Number(row.querySelector('[data-probability]').dataset.probability),
            district: row.cells[2].textContent,
            level: row.cells[4].textContent.replace('*', ''),
        }))""",
    )


def map_fills(page) -> list[str]:
    return page.eval_on_selector_all("#map svg path", "paths => paths.map(p => p.getAttribute('fill'))")


def api_top(api: httpx.Client, group: str, week: str | None = None) -> list[tuple[str, float]]:
    params = {"group": group, "top": TOP_N} | ({"week": week} if week else {})
    response = api.get("/v1/risk", params=params)
    response.raise_for_status()
    rows = [(grid["grid_id"], grid["risks"][0]) for grid in response.json()["grids"]]
    return [(grid_id, risk["probability"]) for grid_id, risk in sorted(rows, key=lambda row: row[1]["rank"])]


def only_local_requests(page, base_url: str) -> list[str]:
    return [url for url in page.requests if not (url.startswith(base_url) or url.startswith("data:"))]


def save_small_png(png: bytes, path: Path) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=96, dither=Image.Dither.NONE)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)


# ---- access ------------------------------------------------------------------------------------------
def test_requests_without_a_key_are_refused(page, base_url, world, artifacts):
    grid = "/v1/grids/G0001"
    for path in ("/v1/risk", "/v1/grids", "/v1/grids/weekly", f"{grid}/activity", f"{grid}/reports"):
        response = httpx.get(f"{base_url}{path}", timeout=10)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthorized"

    page.goto(f"{base_url}/dashboard")
    assert page.is_visible("#login-form")
    assert page.is_hidden("#main")
    page.screenshot(path=str(artifacts / "login.png"))

    page.fill("#api-key", "gs_000000000000_not-a-real-key")
    page.press("#api-key", "Enter")
    page.wait_for_function("() => document.querySelector('#login-error').textContent.length > 0")
    assert "无效" in page.text_content("#login-error")
    assert page.is_hidden("#main")

    page.fill("#api-key", world.keys[Role.INTAKE])  # a real key whose role may not read risk
    page.press("#api-key", "Enter")
    page.wait_for_function("() => document.querySelector('#login-error').textContent.includes('无权')")
    assert page.is_hidden("#main")
    assert not page.evaluate("sessionStorage.length"), "a refused key must not be kept"


# ---- overview ----------------------------------------------------------------------------------------
def test_map_draws_one_shape_per_grid_from_local_assets_only(page, base_url, world, api, artifacts):
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    grids = api.get("/v1/grids").json()["grids"]
    assert len(grids) == 150
    assert page.locator("#map svg path").count() == len(grids)
    fills = map_fills(page)
    assert len(set(fills)) > 5, "grids are coloured by their risk"

    page.locator("#map svg path").nth(40).hover()
    tip = page.locator("text=/概率：/").first
    tip.wait_for()
    assert "排名" in page.locator("text=/排名/").first.text_content()
    png = page.screenshot(path=str(artifacts / "overview.png"))
    if os.environ.get("GRIDSENSE_UPDATE_README_SCREENSHOT"):
        save_small_png(png, README_SCREENSHOT)
    assert only_local_requests(page, base_url) == [], "no CDN, fonts or tiles"
    assert page.problems == []


def test_top_list_is_sorted_by_probability_and_matches_the_api(page, base_url, world, api):
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    rows = top_rows(page)
    probabilities = [row["probability"] for row in rows]
    assert len(rows) == TOP_N
    assert probabilities == sorted(probabilities, reverse=True)
    assert [(row["grid_id"], row["probability"]) for row in rows] == api_top(api, "dispute")


def test_toggle_switches_between_dispute_and_hazard(page, base_url, world, api, artifacts):
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    dispute_fills = map_fills(page)
    dispute_rows = top_rows(page)

    page.click("label[for=group-hazard]")
    page.wait_for_selector("#map[data-group=hazard]")
    hazard_rows = top_rows(page)
    assert [(row["grid_id"], row["probability"]) for row in hazard_rows] == api_top(api, "hazard")
    assert hazard_rows != dispute_rows
    assert map_fills(page) != dispute_fills
    assert "安全隐患" in page.text_content("#top-title")
    page.screenshot(path=str(artifacts / "overview-hazard.png"))

    page.click("label[for=group-dispute]")
    page.wait_for_selector("#map[data-group=dispute]")
    assert map_fills(page) == dispute_fills


def test_week_selector_shows_what_happened_in_past_weeks(page, base_url, world, api):
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    forecast_fills = map_fills(page)
    past_week = api.get("/v1/grids/weekly", params={"weeks": 12}).json()["weeks"][-1]
    page.select_option("#week-select", f"actual:{past_week}")
    page.wait_for_selector(f"#map[data-week='actual:{past_week}']")
    assert "实际" in page.text_content("#legend-title")
    assert map_fills(page) != forecast_fills
    assert page.locator("#map svg path").count() == 150


def test_week_selector_shows_past_forecast_weeks(page, base_url, world, api):
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    latest_fills = map_fills(page)
    weeks = api.get("/v1/risk").json()["available_weeks"]
    assert len(weeks) == 3 and weeks == sorted(weeks, reverse=True)
    past = weeks[-1]
    page.select_option("#week-select", f"forecast:{past}")
    page.wait_for_selector(f"#map[data-week='forecast:{past}']")
    assert past in page.text_content("#top-title")
    assert map_fills(page) != latest_fills
    rows = [(row["grid_id"], row["probability"]) for row in top_rows(page)]
    assert rows == api_top(api, "dispute", week=past) != api_top(api, "dispute")


def test_top_list_sorts_and_filters(page, base_url, world):
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    page.click("th[data-sort=grid_id] button")
    ids = [row["grid_id"] for row in top_rows(page)]
    assert ids == sorted(ids)
    assert page.get_attribute("th[data-sort=grid_id]", "aria-sort") == "ascending"

    district = top_rows(page)[0]["district"]
    page.select_option("#filter-district", district)
    rows = top_rows(page)
    assert rows and all(row["district"] == district for row in rows)

    page.select_option("#filter-district", "")
    page.select_option("#filter-level", "中")
    rows = top_rows(page)
    assert rows and all(row["level"] == "中" for row in rows)


# ---- drill-down ------------------------------------------------------------------------------------
def test_clicking_a_grid_on_the_map_opens_its_drill_down(page, base_url, world, api, artifacts):
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    grids = api.get("/v1/grids").json()["grids"]
    page.locator("#map svg path").nth(75).click()
    page.wait_for_selector("#panel-grid:not([hidden])")
    grid_id = grids[75]["grid_id"]
    assert page.text_content("#grid-title") == f"网格 {grid_id}"
    page.wait_for_function("() => document.querySelectorAll('#chart-activity svg path').length > 10")  # bars
    page.wait_for_function("() => document.querySelectorAll('#chart-history svg path').length > 10")
    reports = page.locator("#reports-body tr")
    assert reports.count() == len(api.get(f"/v1/grids/{grid_id}/reports").json()["reports"]) > 0
    page.screenshot(path=str(artifacts / "grid-detail.png"), full_page=True)
    assert page.problems == []


def test_reports_in_the_drill_down_are_redacted(api):
    reports = [
        report
        for grid in api.get("/v1/grids").json()["grids"][:40]
        for report in api.get(f"/v1/grids/{grid['grid_id']}/reports").json()["reports"]
    ]
    assert reports
    phone = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
    assert not [report["text"] for report in reports if phone.search(report["text"])]
    assert {"category_l1", "department", "confidence"} <= set(reports[0])


def test_forecaster_fields_are_shown_when_the_api_has_them(page, base_url, world):
    """Levels, drivers, trends and forecast history (the risk forecaster's additions to /v1/risk) replace
    the page's fallbacks. The API answers are extended in the browser, in the shape the forecaster writes."""
    driver = {"feature": "cnt_dispute_4w", "text": "近4周矛盾纠纷12起，为近一年周均的3倍", "direction": "up"}

    def enriched_risk(route):
        response = route.fetch()
        body = response.json()
        for grid in body["grids"]:
            for risk in grid["risks"]:
                risk["level"] = "高" if risk["rank"] <= 3 else "低"
                risk["drivers"] = f"{driver['text']}；老旧小区"
                risk["drivers_json"] = json.dumps([driver], ensure_ascii=False)
                risk["trend"] = [{"week_start": "2025-01-06", "probability": p} for p in (0.1, 0.3, 0.2)]
        route.fulfill(response=response, json=body)

    history = {
        "history": [
            {"week_start": f"2025-01-{day:02d}", "group": group, "probability": 0.2, "actual_count": 1}
            for day in (6, 13, 20)
            for group in ("dispute", "hazard")
        ]
    }
    page.route("**/v1/risk", enriched_risk)
    page.route("**/v1/risk/*/history", lambda route: route.fulfill(json=history))
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])

    first = page.locator("#top-body tr[data-grid-id]").first
    assert first.locator(".level").text_content() == "高"
    assert first.locator(".drivers li").first.text_content() == f"↑ {driver['text']}"
    assert "3 次预测概率" in first.locator("svg.spark").get_attribute("aria-label")
    assert "估算" not in page.text_content("#top-footnote")

    first.locator("button.grid-link").click()
    page.wait_for_function("() => document.querySelectorAll('#chart-history svg path').length > 5")
    assert page.text_content("#history-note").startswith("柱：实际发生")


# ---- playground and models ---------------------------------------------------------------------------
def test_playground_classifies_a_blocked_fire_exit_as_a_hazard(page, base_url, world, artifacts):
    supervisor_may_classify = Permission.CLASSIFY in ROLE_PERMISSIONS[Role.SUPERVISOR]
    if not supervisor_may_classify:  # the page must say so rather than fail
        open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
        page.click("#tab-intake")
        page.fill("#classify-text", HAZARD_REPORT)
        page.click("#classify-form button[type=submit]")
        page.wait_for_selector("#classify-result [role=alert]")
        assert "无权" in page.text_content("#classify-result")
        page.evaluate("sessionStorage.clear()")

    open_dashboard(page, base_url, key_with(world, Permission.CLASSIFY))
    page.click("#tab-intake")
    page.fill("#classify-text", HAZARD_REPORT)
    page.click("#classify-form button[type=submit]")
    page.wait_for_selector("#classify-output")
    assert page.get_attribute("#classify-output", "data-risk-group") == "hazard"
    assert page.text_content("#classify-risk-group") == "安全隐患"
    assert "处置部门" in page.text_content("#classify-result")
    phrases = page.locator("#classify-evidence li").all_text_contents()
    assert phrases and all(phrase in HAZARD_REPORT for phrase in phrases)
    page.screenshot(path=str(artifacts / "intake.png"))


def test_models_panel_shows_champion_and_challenger(page, base_url, world, artifacts):
    open_dashboard(page, base_url, key_with(world, Permission.MODELS))
    page.click("#tab-models")
    page.wait_for_selector("table[data-model=gridsense-text]")
    header = page.text_content("table[data-model=gridsense-text] thead")
    assert "冠军" in header and "挑战者" in header
    assert "0.910" in page.text_content("table[data-model=gridsense-text] tbody")
    assert "baseline" not in page.text_content("table[data-model=gridsense-text]")
    page.screenshot(path=str(artifacts / "models.png"))


# ---- accessibility -----------------------------------------------------------------------------------
def test_keyboard_reaches_grids_through_the_top_list(page, base_url, world):
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    page.reload()  # the session keeps the key; keyboard navigation starts at the top of the page
    page.wait_for_selector("#top-body tr[data-grid-id]")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "跳到主要内容"
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('grid-link')"):
            break
    else:
        pytest.fail("Tab never reached the top list")
    focused = page.evaluate("document.activeElement.textContent")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"

    page.keyboard.press("Enter")
    page.wait_for_selector("#panel-grid:not([hidden])")
    assert page.text_content("#grid-title") == f"网格 {focused}"
    assert page.evaluate("document.activeElement.id") == "grid-title"

    page.keyboard.press("Escape")
    page.wait_for_selector("#panel-overview:not([hidden])")
    assert page.evaluate("document.activeElement.textContent") == focused

    page.focus("#tab-overview")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-grid", "aria-selected") == "true"
    page.keyboard.press("End")
    assert page.get_attribute("#tab-models", "aria-selected") == "true"


def test_large_font_mode_fits_a_laptop_screen(page, base_url, world, artifacts):
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1366
    assert page.evaluate("document.scrollingElement.scrollHeight") <= 768, "the overview fits 1366x768"
    normal = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.click("#large-font")
    assert page.get_attribute("#large-font", "aria-pressed") == "true"
    large = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert large >= normal * 1.2
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1366, "no sideways scrolling"
    page.screenshot(path=str(artifacts / "large-font.png"))
