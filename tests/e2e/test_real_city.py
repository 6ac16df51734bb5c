"""A real city's own log, end to end through the commands docs/YOUR_CITY.md gives (issue 12).

Each step runs the installed `gridsense` command in a fresh GridSense home, as a new user types it:
ingest -> build-features -> train risk -> forecast -> serve -> the dashboard in headless Chromium. Chicago's
crimes through the bundled adapter (a few months, one risk group) and Sweden's police events through the
example mapping file (no adapter). Skips when ../shared/data is absent.

With GRIDSENSE_UPDATE_README_SCREENSHOT=1 the Chicago overview is written to docs/img/chicago_dashboard.png.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_dashboard import save_small_png

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
CHICAGO_LOG = SHARED / "chicago_crime_2016_2017" / "chicago_crime_visible.csv.gz"
SWEDEN_LOG = SHARED / "sweden_police_events_2023_2026" / "events_visible.parquet"
SWEDEN_MAPPING = REPO / "docs" / "examples" / "sweden_mapping.yaml"
SCREENSHOT = REPO / "docs" / "img" / "chicago_dashboard.png"
GRIDSENSE = Path(sys.executable).with_name("gridsense")
PREFIXES_DROPPED = ("GRIDSENSE_", "MLFLOW_")
KEY_PATTERN = re.compile(r"gs_[A-Za-z0-9_-]+")


def clean_env(home: Path) -> dict[str, str]:
    """The test's environment without GRIDSENSE_* settings (nor the MLFLOW_* an in-process MLflow call
    exports), with the home: what the guide sets."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith(PREFIXES_DROPPED)}
    return kept | {"GRIDSENSE_HOME": str(home)}


def gridsense(home: Path, *args: object) -> str:
    """Run one command as the guide does, in the home; fail with its output when it fails."""
    done = subprocess.run(
        [str(GRIDSENSE), *map(str, args)], cwd=home, env=clean_env(home), capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, f"gridsense {' '.join(map(str, args))}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def new_key(home: Path, role: str) -> str:
    return KEY_PATTERN.search(gridsense(home, "keys", "create", "--role", role, "--label", "e2e")).group(0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`gridsense serve` in the background, stopped at the end of the module."""

    def __init__(self, home: Path, *args: object) -> None:
        self.port = free_port()
        env = clean_env(home) | {"GRIDSENSE_RELOAD_INTERVAL_SECONDS": "0"}
        self.log = (home / "serve.log").open("w")
        self.process = subprocess.Popen(
            [str(GRIDSENSE), "serve", "--port", str(self.port), *map(str, args)],
            cwd=home, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_ready(home)

    def _wait_ready(self, home: Path) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gridsense serve exited:\n{(home / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"gridsense serve did not answer:\n{(home / 'serve.log').read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def needs(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data)")


# ---- Chicago: the bundled adapter, one risk group ------------------------------------------------------
CHICAGO_SITE = (
    "site", "init", "chicago", "--events", "datasets/chicago/events.parquet",
    "--grids", "datasets/chicago/grids.parquet", "--taxonomy", "datasets/chicago/taxonomy.yaml",
    "--calendar", "US", "--language", "en", "--timezone", "America/Chicago",
)  # fmt: skip


def ingest_chicago(home: Path, *window: str) -> str:
    return gridsense(home, "ingest", CHICAGO_LOG, "--adapter", "chicago", "--cell-size-m", 1000,
                     "--not-before", "2017-01-01", *window, "--out", "datasets/chicago")  # fmt: skip


@pytest.fixture(scope="module")
def chicago(tmp_path_factory):
    """The guide's commands: 2017 up to four weeks before the log ends, a champion; then the four weeks
    more, a weekly retrain and its promotion; the forecast; the API."""
    needs(CHICAGO_LOG)
    home = tmp_path_factory.mktemp("chicago")
    ingest_chicago(home, "--not-after", "2017-09-03")
    gridsense(home, *CHICAGO_SITE)
    gridsense(home, "build-features", "--site", "chicago")
    gridsense(home, "train", "risk", "--site", "chicago")
    ingest_chicago(home)  # four more weeks of the same log
    gridsense(home, "build-features", "--site", "chicago")
    gridsense(home, "retrain", "risk", "--site", "chicago")
    promoted = gridsense(home, "promote", "risk", "--site", "chicago")  # no --force
    gridsense(home, "forecast", "--site", "chicago")
    key = new_key(home, "supervisor")  # before serve, as the guide does: the key file is read at start-up
    server = Server(home, "--site", "chicago")
    yield home, server, key, promoted
    server.stop()


def test_chicago_weekly_retrain_with_four_more_weeks_is_promoted_without_force(chicago):
    home, server, key, promoted = chicago
    assert "promoted" in promoted.lower() and "refused" not in promoted.lower(), promoted
    versions = json.loads(gridsense(home, "models", "--site", "chicago", "--json"))
    champion = [v for v in versions if v["name"] == "gridsense-risk-chicago" and "champion" in v["aliases"]]
    assert [v["version"] for v in champion] == ["2"], "the retrain on the newer weeks is the champion"
    assert champion[0]["provenance"]["data.time_to"] > "2017-09-25", "trained with the four weeks more"


def test_chicago_serves_every_cell_for_its_one_group_in_english(chicago):
    home, server, key, _ = chicago
    headers = {"X-API-Key": key}
    site = httpx.get(f"{server.url}/v1/site", headers=headers, timeout=10).json()
    assert site["language"] == "en" and site["groups"] == [{"id": "dispute", "label": "Battery and assault"}]
    assert site["map_metric"] == "relative", "Chicago's busy cells are all near-certain: draw relative risk"
    grids = httpx.get(f"{server.url}/v1/grids", headers=headers, timeout=10).json()["grids"]
    risk = httpx.get(f"{server.url}/v1/risk", headers=headers, params={"top": 3}, timeout=10).json()
    assert len(grids) > 500  # 1 km cells over the city
    [top] = risk["grids"][:1]
    assert {r["group"] for r in top["risks"]} == {"dispute"}
    drivers = " ".join(driver["text"] for driver in top["risks"][0]["drivers"])
    assert top["risks"][0]["expected_events"] > 1 and "Battery and assault" in drivers, drivers
    ready = httpx.get(f"{server.url}/readyz", headers=headers, timeout=10)
    assert ready.status_code == 200, "no text model is registered: the site serves risk only"


def test_chicago_dashboard_draws_the_cells_and_the_sites_group(chicago, browser):
    home, server, key, _ = chicago
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{server.url}/dashboard")
    page.fill("#api-key", key)
    page.press("#api-key", "Enter")
    page.wait_for_selector("#map svg path")
    page.wait_for_load_state("networkidle")
    grids = httpx.get(f"{server.url}/v1/grids", headers={"X-API-Key": key}, timeout=10).json()["grids"]
    assert page.locator("#map svg path").count() == len(grids)
    fills = page.eval_on_selector_all("#map svg path", "paths => paths.map(p => p.getAttribute('fill'))")
    assert len(set(fills)) > 5, "a dense city's cells are told apart, not one dark block"
    assert "Battery and assault" in page.locator("#main").inner_text(), "the site's group, in English"
    png = page.screenshot(path=str(home / "chicago.png"))
    if os.environ.get("GRIDSENSE_UPDATE_README_SCREENSHOT"):
        save_small_png(png, SCREENSHOT)
    context.close()


def test_chicago_worse_configuration_is_refused(chicago):
    """A challenger trained with a deliberately poor configuration on the same data: promote refuses it."""
    import polars as pl

    from core.registry import CHALLENGER
    from training.tracking import use_local_store
    from training.train_risk import train_risk_model

    home, *_ = chicago
    panel_path = home / "datasets" / "chicago" / "features" / "panel.parquet"
    use_local_store(home, "gridsense-risk-chicago")
    worse = {"n_estimators": 3, "learning_rate": 0.01, "num_leaves": 2, "early_stopping_rounds": 0}
    panel = pl.read_parquet(panel_path)
    train_risk_model(panel, panel_path, home, alias=CHALLENGER, site="chicago", params=worse)
    refused = subprocess.run(
        [str(GRIDSENSE), "promote", "risk", "--site", "chicago"],
        cwd=home, env=clean_env(home), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert refused.returncode != 0, refused.stdout
    assert "refused" in (refused.stdout + refused.stderr).lower(), refused.stdout


# ---- Sweden: a mapping file instead of an adapter -----------------------------------------------------
def test_sweden_through_the_example_mapping_file_reaches_the_api(tmp_path):
    needs(SWEDEN_LOG)
    home = tmp_path
    out = gridsense(home, "ingest", SWEDEN_LOG, "--mapping", SWEDEN_MAPPING, "--out", "datasets/sweden")
    assert "accepted 58,140" in out
    gridsense(home, "site", "init", "sweden", "--events", "datasets/sweden/events.parquet",
              "--grids", "datasets/sweden/grids.parquet", "--taxonomy", "datasets/sweden/taxonomy.yaml",
              "--calendar", "SE", "--language", "en", "--timezone", "Europe/Stockholm")  # fmt: skip
    for step in (("build-features",), ("train", "risk"), ("forecast",)):
        gridsense(home, *step, "--site", "sweden")
    headers = {"X-API-Key": new_key(home, "supervisor")}  # before serve, as the guide does
    server = Server(home, "--site", "sweden")
    try:
        risk = httpx.get(f"{server.url}/v1/risk", headers=headers, params={"top": 5}, timeout=10)
        assert risk.status_code == 200, risk.text
        assert {r["group"] for grid in risk.json()["grids"] for r in grid["risks"]} == {"dispute", "hazard"}
        site = httpx.get(f"{server.url}/v1/site", headers=headers, timeout=10).json()
        assert site["site"] == "sweden" and site["language"] == "en"
    finally:
        server.stop()
