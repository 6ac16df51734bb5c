"""A small real world for the browser tests: a generated demo city, a TF-IDF text model trained on its
reports, a history-based forecasts table, the dashboard tables, and the app served by uvicorn on a free
loopback port. The registry (MLflow) is replaced by a fixed listing; everything else is the real app.

Needs Python `playwright` and Debian's chromium (`apt-get install chromium`); `playwright install`
is never used. Without them, or without the built front-end libraries, the tests skip and say why.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from batch.dashboard_tables import build_dashboard_tables, next_monday
from core.keys import KeyFile, Role
from core.settings import Settings
from demo_city import generate_demo_city
from features.events import load_events
from features.taxonomy import load_taxonomy
from models.text_tfidf import TfidfTextClassifier
from serving.dashboard import vendor_assets_missing
from serving.deps import get_resources
from serving.forecast_store import ForecastStore
from serving.main import create_app
from serving.resources import Resources
from serving.schemas import ModelsResponse, ModelVersionInfo, RegisteredModelInfo
from serving.text_service import TextClassifierService

CHROMIUM = Path(os.environ.get("GRIDSENSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
VIEWPORT = {"width": 1366, "height": 768}

N_GRIDS = 150
WEEKS = 60
TRAIN_REPORTS = 6000
HISTORY_WEEKS = 26


@dataclass(frozen=True)
class World:
    root: Path
    settings: Settings
    classifier: TfidfTextClassifier
    forecasts: pl.DataFrame
    history: pl.DataFrame
    keys: dict[Role, str]


class FixedRegistry:
    """The registry listing the models panel shows: a champion and a challenger of the text model."""

    def describe(self) -> ModelsResponse:
        text_metrics = {"test.macro_f1_l1": 0.91, "test.macro_f1_leaf": 0.83, "baseline.macro_f1_l1": 0.05}
        return ModelsResponse(
            models=[
                RegisteredModelInfo(
                    name="gridsense-text",
                    versions=[
                        ModelVersionInfo(version="3", aliases=["challenger"], metrics=text_metrics),
                        ModelVersionInfo(version="2", aliases=["champion"], metrics=text_metrics),
                        ModelVersionInfo(version="1"),
                    ],
                ),
                RegisteredModelInfo(
                    name="gridsense-risk",
                    versions=[
                        ModelVersionInfo(
                            version="1",
                            aliases=["champion"],
                            metrics={
                                "model.dispute.average_precision": 0.41,
                                "model.hazard.average_precision": 0.37,
                            },
                        )
                    ],
                ),
            ]
        )


def history_forecasts(events: pl.DataFrame, grids: pl.DataFrame) -> pl.DataFrame:
    """Forecasts for the week after the log: the share of recent weeks with such an event (a baseline;
    the dashboard only needs a table in the API's format)."""
    forecast_week = next_monday(events.get_column("reported_at").max())
    since = forecast_week - timedelta(weeks=HISTORY_WEEKS)
    active_weeks = (
        events.filter(pl.col("reported_at").dt.date() >= since)
        .filter(pl.col("risk_group").is_in(["dispute", "hazard"]))
        .with_columns(week=pl.col("reported_at").dt.truncate("1w"))
        .group_by("grid_id", pl.col("risk_group").alias("group"))
        .agg(n_weeks=pl.col("week").n_unique())
    )
    return (
        grids.select("grid_id", "district")
        .join(pl.DataFrame({"group": ["dispute", "hazard"]}), how="cross")
        .join(active_weeks, on=["grid_id", "group"], how="left")
        .with_columns(
            week_start=pl.lit(forecast_week),
            probability=(pl.col("n_weeks").fill_null(0) + 0.5) / (HISTORY_WEEKS + 1),
        )
        .with_columns(
            rank=pl.col("probability").rank(method="ordinal", descending=True).over("group").cast(pl.Int32),
            model_name=pl.lit("gridsense-risk"),
            model_version=pl.lit("1"),
        )
        .drop("n_weeks")
    )


def past_forecasts(events: pl.DataFrame, grids: pl.DataFrame, weeks_back: int = 2) -> pl.DataFrame:
    """The forecasts the same baseline would have made 1..``weeks_back`` weeks earlier, as a history table."""
    latest = next_monday(events.get_column("reported_at").max())
    frames = []
    for back in range(1, weeks_back + 1):
        cutoff = latest - timedelta(weeks=back)
        earlier = events.filter(pl.col("reported_at").dt.date() < cutoff)
        frames.append(history_forecasts(earlier, grids).with_columns(source=pl.lit("forecast")))
    return pl.concat(frames)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    missing = vendor_assets_missing()
    if missing:
        pytest.skip(f"front-end libraries not built ({', '.join(missing)}): run `make dashboard-assets`")
    return CHROMIUM


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path) -> World:
    root = tmp_path_factory.mktemp("dashboard-world")
    taxonomy = load_taxonomy()
    city = root / "city"
    generate_demo_city(city, seed=11, n_grids=N_GRIDS, weeks=WEEKS)
    events = load_events(city / "events.parquet", taxonomy).events
    grids = pl.read_parquet(city / "grids.parquet")
    train = events.filter(pl.col("invalid_reason").is_null()).sort("reported_at").tail(TRAIN_REPORTS)
    classifier = TfidfTextClassifier(taxonomy, max_features=50_000, calibration_cv=2).fit(
        train.get_column("text").to_list(), train.get_column("leaf_id").to_list()
    )
    forecasts = history_forecasts(events, grids)
    forecasts.write_parquet(root / "forecasts.parquet")
    history = past_forecasts(events, grids)
    build_dashboard_tables(events, grids, classifier, model_version="2").write(root / "serving")
    settings = Settings(
        home=root,
        forecasts_path=root / "forecasts.parquet",
        dashboard_tables_dir=root / "serving",
        mlflow_tracking_uri=f"sqlite:///{root / 'no-mlflow' / 'mlflow.db'}",  # absent: nothing loads from it
        reload_interval_seconds=0,
        keys_refresh_seconds=0,
        log_format="text",
        log_level="WARNING",
        rate_limit_supervisor="",  # the tests scan the API faster than a person; limits: test_rate_limits.py
    )
    key_file = KeyFile(settings.api_keys_path)
    keys = {role: key_file.create(role, label="e2e").key for role in Role}
    return World(root, settings, classifier, forecasts, history, keys)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def base_url(world: World) -> Iterator[str]:
    import uvicorn

    app = create_app(world.settings)
    resources = Resources.fixed(
        registry=FixedRegistry(),
        text_service=TextClassifierService(world.classifier, "gridsense-text", "2"),
        forecast_store=ForecastStore(world.forecasts, world.history),
    )
    app.dependency_overrides[get_resources] = lambda: resources
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="dashboard-e2e-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def api(base_url: str, world: World) -> Iterator[httpx.Client]:
    """An API client with the supervisor key, for comparing the page with the JSON API."""
    headers = {"X-API-Key": world.keys[Role.SUPERVISOR]}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")  # Playwright's sync API keeps an event loop running until it stops:
def browser(chromium_path: Path):  # stop it before other modules' tests use asyncio.run
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def page(browser, base_url: str):
    """A fresh browser tab at 1366x768 (empty session storage), recording requests and errors."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    tab = context.new_page()
    tab.requests = []
    tab.problems = []
    tab.on("request", lambda request: tab.requests.append(request.url))
    tab.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            tab.problems.append(f"console: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield tab
    context.close()
