from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from serving.auth import KeyFirstRoute, Permission, require
from serving.deps import ResourcesDep
from serving.intake_service import intake_warnings
from serving.resources import Resources
from serving.schemas import (
    ERROR_RESPONSES,
    CheckStatus,
    ComponentStatus,
    HealthResponse,
    ReadinessResponse,
)

router = APIRouter(tags=["health"], route_class=KeyFirstRoute)


@router.get("/healthz", summary="Liveness: the process answers (no key needed)")
async def healthz() -> HealthResponse:
    return HealthResponse()


@router.get(
    "/readyz",
    summary="Readiness: the text model and the forecasts table are loaded and answer",
    description=(
        "503 while something is not loaded, or the served text model failed its latest check (`missing` "
        "says why; `components.<name>.check` has the latest check: the stored-sample validation when the "
        "version was swapped in, then a re-check at each poll). `warnings` lists what is served but not "
        "as wanted: a newer version that failed to load (the previous one is kept), a model served from "
        "the local cache because the registry was unreachable, forecasts older than the risk champion."
    ),
    dependencies=[require(Permission.STATUS)],
    responses={
        503: {"model": ReadinessResponse, "description": "Something is not loaded; see `missing`."},
        **{code: ERROR_RESPONSES[code] for code in (401, 403)},
    },
)
async def readyz(resources: ResourcesDep, response: Response, request: Request) -> ReadinessResponse:
    components = {name: component_status(swap) for name, swap in resources.components.items()}
    missing = [
        f"{name}: {swap.last_error or 'not loaded'}"
        for name, swap in resources.components.items()
        if swap.active is None
    ]
    missing += [
        f"{name}: version {swap.check.version} does not answer: {swap.check.detail}"
        for name, swap in resources.components.items()
        if swap.active is not None and swap.check is not None and not swap.check.passed
    ]
    if missing:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    text, store = resources.text_service, resources.forecast_store
    return ReadinessResponse(
        status="not_ready" if missing else "ready",
        text_model=text.model if text else None,
        risk_model=store.model if store else None,
        forecast_week=store.latest_week() if store else None,
        missing=missing,
        warnings=warnings(resources) + intake_warnings(request.app),
        components=components,
    )


def component_status(swap) -> ComponentStatus:
    active = swap.active
    return ComponentStatus(
        loaded=active is not None,
        version=active.version if active else None,
        source=active.source if active else None,
        loaded_at=active.loaded_at if active else None,
        last_check=swap.last_check,
        last_error=swap.last_error,
        failed_version=swap.failed_version,
        check=CheckStatus(**vars(swap.check)) if swap.check is not None else None,
    )


def warnings(resources: Resources) -> list[str]:
    found = []
    for name, swap in resources.components.items():
        active = swap.active
        if active is not None and active.source == "cache":
            found.append(f"{name}: the registry is unreachable; serving the cached version {active.version}")
        elif active is not None and swap.last_error:
            found.append(f"{name}: {swap.last_error}; still serving {active.version}")
    store, champion = resources.forecast_store, resources.risk_champion_version
    if store is not None and champion is not None and store.model.version != champion:
        found.append(
            f"forecasts: made by {store.model.name} version {store.model.version}, but "
            f"{resources.risk_model_alias} is version {champion}; run `gridsense forecast`"
        )
    return found
