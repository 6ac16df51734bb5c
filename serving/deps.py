"""Dependencies of the routers, as `Annotated` aliases. Tests replace them via `app.dependency_overrides`.

They are `async def` because they only read app state: FastAPI would run sync ones in a thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from core.audit import AuditLog
from core.settings import Settings
from serving.errors import NotReadyError
from serving.forecast_store import ForecastStore
from serving.inference import InferenceRunner
from serving.registry import ModelRegistry
from serving.resources import Resources
from serving.telemetry import ServingMetrics
from serving.text_service import TextClassifierService


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_resources(request: Request) -> Resources:
    return request.app.state.resources


SettingsDep = Annotated[Settings, Depends(get_settings)]
ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_text_service(resources: ResourcesDep) -> TextClassifierService:
    """The text model served at this moment; the request keeps it even if a swap happens meanwhile."""
    if not resources.text_enabled:
        raise NotReadyError(
            "this site serves no text model (risk only, GRIDSENSE_SERVE_TEXT=false): train one with "
            "`gridsense train text --site SITE` and restart `gridsense serve`"
        )
    service = resources.text.value
    if service is None:
        raise NotReadyError(f"text model is not loaded: {resources.text.last_error or 'unknown reason'}")
    return service


async def get_forecast_store(resources: ResourcesDep) -> ForecastStore:
    if not resources.risk_enabled:
        raise NotReadyError(
            "this site serves no risk forecasts (text only, GRIDSENSE_SERVE_RISK=false): train a risk model "
            "with `gridsense train risk --site SITE`, run `gridsense forecast --site SITE` and restart"
        )
    store = resources.forecasts.value
    if store is None:
        raise NotReadyError(f"forecasts are not loaded: {resources.forecasts.last_error or 'unknown reason'}")
    return store


async def get_registry(resources: ResourcesDep) -> ModelRegistry:
    return resources.registry


async def get_runner(request: Request) -> InferenceRunner:
    return request.app.state.runner


async def get_metrics(request: Request) -> ServingMetrics:
    return request.app.state.metrics


async def get_audit_log(request: Request) -> AuditLog:
    return request.app.state.audit


TextModelDep = Annotated[TextClassifierService, Depends(get_text_service)]
ForecastStoreDep = Annotated[ForecastStore, Depends(get_forecast_store)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
RunnerDep = Annotated[InferenceRunner, Depends(get_runner)]
MetricsDep = Annotated[ServingMetrics, Depends(get_metrics)]
AuditDep = Annotated[AuditLog, Depends(get_audit_log)]
