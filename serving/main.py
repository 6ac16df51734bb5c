"""The app factory. Run with `uvicorn serving.main:create_app --factory` (or `gridsense serve`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from serving.errors import install_error_handlers
from serving.request_id import RequestIdMiddleware
from serving.resources import Resources, load_resources, registry_view
from serving.routers import classify, health, models, risk
from serving.settings import Settings

DESCRIPTION = """
GridSense serves two models for grid-based community governance (网格化服务管理):

* **/v1/classify** sorts citizen and grid-worker event reports into the three-level event taxonomy and
  routes them to a department;
* **/v1/risk** returns next week's dispute and hazard risk per grid, from the latest batch forecast;
* **/v1/models** shows which model versions are registered and which one is the champion.

Every error answers with the same JSON envelope: `{"error": {"code", "message", "field", "request_id"}}`.
"""

TAGS = [
    {"name": "classify", "description": "Event report classification."},
    {"name": "risk", "description": "Grid x week risk forecasts."},
    {"name": "models", "description": "The MLflow model registry."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.resources = await run_in_threadpool(load_resources, app.state.settings)
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="GridSense API",
        summary="Event classification and grid risk forecasts for grid-based community governance.",
        description=DESCRIPTION,
        version=_package_version(),
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.resources = Resources.not_loaded(registry=registry_view(settings))
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    for router in (classify.router, risk.router, models.router, health.router):
        app.include_router(router)
    return app


def _package_version() -> str:
    try:
        return metadata.version("gridsense")
    except metadata.PackageNotFoundError:
        return "0.0.0+source"
