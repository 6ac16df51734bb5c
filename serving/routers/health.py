from __future__ import annotations

from fastapi import APIRouter, Response, status

from serving.deps import ResourcesDep
from serving.resources import FORECASTS, TEXT_MODEL
from serving.schemas import HealthResponse, ReadinessResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> HealthResponse:
    return HealthResponse()


@router.get(
    "/readyz",
    summary="Readiness: the text model and the forecasts table are loaded",
    responses={503: {"model": ReadinessResponse, "description": "Something is not loaded; see `missing`."}},
)
def readyz(resources: ResourcesDep, response: Response) -> ReadinessResponse:
    missing = [
        f"{component}: {resources.problems.get(component, 'not loaded')}"
        for component, loaded in ((TEXT_MODEL, resources.text_service), (FORECASTS, resources.forecast_store))
        if loaded is None
    ]
    ready = not missing
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    store = resources.forecast_store
    return ReadinessResponse(
        status="ready" if ready else "not_ready",
        text_model=resources.text_service.model if resources.text_service else None,
        forecast_week=store.latest_week() if store else None,
        missing=missing,
    )
