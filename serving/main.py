"""The app factory. Run with `uvicorn serving.main:create_app --factory` (or `gridsense serve`)."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from importlib import metadata

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from core.audit import AuditLog
from core.keys import KeyVerifier
from core.settings import Settings
from serving import api_docs
from serving.auth import Permission, roles_with
from serving.body_timeout import BodyTimeoutMiddleware
from serving.dashboard import router as dashboard_router
from serving.errors import install_error_handlers
from serving.hot_swap import ReloadEvent
from serving.inference import make_runner
from serving.intake_service import IntakeService
from serving.logs import configure_logging
from serving.observability import ObservabilityMiddleware
from serving.openapi_limits import document_limits
from serving.rate_limit import RateLimiter
from serving.request_id import RequestIdMiddleware
from serving.resources import Resources, build_resources, registry_view
from serving.routers import (
    admin,
    classify,
    drift,
    feedback,
    grids,
    health,
    intake,
    metrics,
    models,
    risk,
    site,
)
from serving.routers import hot_issues as hot_issues_router
from serving.schemas import ERROR_RESPONSES
from serving.telemetry import ServingMetrics
from serving.validation import BodyLimitMiddleware, check_query_encoding

logger = logging.getLogger(__name__)

DESCRIPTION = """
GridSense serves two models for grid-based community governance (网格化服务管理):

* **/v1/classify** sorts citizen and grid-worker event reports into the three-level event taxonomy and
  routes them to a department;
* **/v1/risk** returns next week's dispute and hazard risk per grid, from the latest batch forecast;
* **/v1/models** shows which model versions are registered and which one is the champion.

Every call but `/healthz` (and this description, `/docs` and the dashboard page) needs an API key
(`X-API-Key: <key>` or `Authorization: Bearer <key>`), created with
`gridsense keys create --role intake|supervisor|data_scientist`; the tags below name the roles that may
call each group. Every answer names the model version that produced it (in the body and in the
`X-Model-Name` / `X-Model-Version` headers).

Every error answers with the same JSON envelope: `{"error": {"code", "message", "field", "request_id"}}`.
"""

# tag -> (what it covers, the permission its routes need): the roles in each description come from
# serving.auth.ROLE_PERMISSIONS (tests/serving/test_roles_docs.py checks them against the routes)
TAG_PERMISSIONS = {
    "classify": ("Event report classification", Permission.CLASSIFY),
    "risk": ("Grid x week risk forecasts", Permission.RISK),
    "grids": ("Grid geometry, weekly activity, recent reports", Permission.DASHBOARD),
    "site": ("The site: name, language, risk groups and their labels", Permission.DASHBOARD),
    "hot issues": ("Reports about one problem in one place, ranked by heat", Permission.DASHBOARD),
    "feedback": ("Dispatchers' confirmations and corrections of reports taken in", Permission.FEEDBACK),
    "review": ("The unreviewed reports whose labels would teach the model most", Permission.REVIEW),
    "models": ("The MLflow model registry", Permission.MODELS),
    "admin": ("Model reloads", Permission.ADMIN),
    "metrics": ("Prometheus metrics", Permission.METRICS),
    "health": ("Liveness (`/healthz`, no key) and readiness (`/readyz`) probes", Permission.STATUS),
}


async def _start_intake(app: FastAPI, settings: Settings) -> None:
    """Open the report store and start reading the duplicate window now, so the first intake call does
    not pay for it; a failure here only leaves that to the first call."""
    try:
        service = await run_in_threadpool(IntakeService.from_settings, settings)
    except Exception as exc:
        logger.warning("intake not prepared at start-up (%s); the first intake call will", exc)
        return
    app.state.intake = service
    service.start_warming()


def openapi_tags() -> list[dict[str, str]]:
    return [
        {"name": tag, "description": f"{text} (roles: {', '.join(roles_with(permission))})."}
        for tag, (text, permission) in TAG_PERMISSIONS.items()
    ]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    configure_logging(settings.log_level, settings.log_format)
    resources = build_resources(settings, listeners=[_reload_listener(app)])
    await run_in_threadpool(resources.refresh, "start-up")
    freeze_long_lived_objects()
    app.state.resources = resources
    if app.state.key_verifier.active_keys == 0:
        logger.warning(
            "no API keys in %s: every call but /healthz is refused; create one with "
            "`gridsense keys create --role ...`",
            settings.api_keys_path,
        )
    if settings.serve_text:
        await _start_intake(app, settings)
    poller = asyncio.create_task(_poll(app, settings.reload_interval_seconds), name="gridsense-poller")
    try:
        yield
    finally:
        poller.cancel()
        with suppress(asyncio.CancelledError):
            await poller
        await app.state.runner.aclose()


def freeze_long_lived_objects() -> None:
    """Move everything alive now (imports, loaded models) out of the cyclic garbage collector's reach.

    A full collection walks every tracked object: with MLflow imported and a model loaded, that is a
    stop-the-world pause of ~150-180 ms in this worker, and loading a new model version allocates
    enough to trigger one in the middle of serving (the alias-swap benchmark's latency spike). Frozen
    objects are still freed by reference counting when a swap drops them."""
    gc.collect()
    gc.freeze()


async def _poll(app: FastAPI, interval: float) -> None:
    """Re-check the registry alias and the forecasts file; jittered so workers do not reload together."""
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))
        await run_in_threadpool(app.state.resources.refresh, "poll")


def _reload_listener(app: FastAPI):
    def on_reload(event: ReloadEvent) -> None:
        metrics: ServingMetrics = app.state.metrics
        metrics.observe_reload(event)
        if event.version is not None:
            metrics.set_served(event.component, event.version, event.source)
        if event.outcome == "unchanged":
            return
        if event.outcome == "swapped":
            freeze_long_lived_objects()
        log = logger.warning if event.outcome == "failed" else logger.info
        log(
            "%s %s: %s -> %s%s",
            event.component,
            event.outcome,
            event.previous_version,
            event.version,
            f" ({event.error})" if event.error else "",
            extra={"reload": event.__dict__},
        )
        if event.trigger != "admin":  # the admin endpoint audits its own call, with the caller's key
            details = {key: value for key, value in event.__dict__.items() if key != "outcome"}
            app.state.audit.record(
                f"reload:{event.component}",
                actor=f"serving:{event.trigger}",
                outcome=event.outcome,
                **details,
            )

    return on_reload


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="GridSense API",
        summary="Event classification and grid risk forecasts for grid-based community governance.",
        description=DESCRIPTION,
        version=_package_version(),
        openapi_tags=openapi_tags(),
        docs_url=None,  # served offline by serving.api_docs
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(check_query_encoding)],
        responses={429: ERROR_RESPONSES[429]},  # per-key rate limits (serving.rate_limit)
    )
    app.state.settings = settings
    document_limits(app, settings)
    app.state.metrics = ServingMetrics()
    app.state.audit = AuditLog(settings.audit_log_path)
    app.state.key_verifier = KeyVerifier(settings.api_keys_path, settings.keys_refresh_seconds)
    app.state.runner = make_runner(
        settings.inference,
        settings.microbatch_max_items,
        settings.microbatch_wait_ms,
        settings.microbatch_max_chars,
    )
    app.state.rate_limiter = RateLimiter.from_settings(settings)
    app.state.resources = Resources.not_loaded(registry=registry_view(settings))
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(BodyTimeoutMiddleware, seconds=settings.body_timeout_seconds)
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics)
    if settings.cors_origins:  # off by default
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "X-Request-ID"],
        )
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    for router in (classify.router, risk.router, models.router, admin.router, metrics.router, health.router):
        app.include_router(router)
    app.include_router(grids.router)
    app.include_router(intake.router)
    app.include_router(feedback.router)
    app.include_router(drift.router)
    app.include_router(site.router)
    app.include_router(hot_issues_router.router)
    app.include_router(dashboard_router)
    app.include_router(api_docs.router)
    return app


def _package_version() -> str:
    try:
        return metadata.version("gridsense")
    except metadata.PackageNotFoundError:
        return "0.0.0+source"
