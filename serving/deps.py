"""Dependencies of the routers, as `Annotated` aliases. Tests replace them via `app.dependency_overrides`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from serving.errors import NotReadyError
from serving.forecast_store import ForecastStore
from serving.registry import ModelRegistry
from serving.resources import FORECASTS, TEXT_MODEL, Resources
from serving.settings import Settings
from serving.text_service import TextClassifierService


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_resources(request: Request) -> Resources:
    return request.app.state.resources


SettingsDep = Annotated[Settings, Depends(get_settings)]
ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_text_service(resources: ResourcesDep) -> TextClassifierService:
    if resources.text_service is None:
        raise NotReadyError(
            f"text model is not loaded: {resources.problems.get(TEXT_MODEL, 'unknown reason')}"
        )
    return resources.text_service


def get_forecast_store(resources: ResourcesDep) -> ForecastStore:
    if resources.forecast_store is None:
        raise NotReadyError(
            f"forecasts are not loaded: {resources.problems.get(FORECASTS, 'unknown reason')}"
        )
    return resources.forecast_store


def get_registry(resources: ResourcesDep) -> ModelRegistry:
    return resources.registry


TextModelDep = Annotated[TextClassifierService, Depends(get_text_service)]
ForecastStoreDep = Annotated[ForecastStore, Depends(get_forecast_store)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
