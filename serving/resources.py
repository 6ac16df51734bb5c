"""What the app loads at start-up. A component that fails to load is recorded, not fatal: /readyz says so."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from serving.forecast_store import ForecastStore
from serving.registry import MlflowRegistryView, ModelRegistry
from serving.settings import Settings
from serving.text_service import ModelUri, TextClassifierService, load_text_service

logger = logging.getLogger(__name__)

TEXT_MODEL = "text_model"
FORECASTS = "forecasts"


@dataclass
class Resources:
    registry: ModelRegistry
    text_service: TextClassifierService | None = None
    forecast_store: ForecastStore | None = None
    problems: dict[str, str] = field(default_factory=dict)  # component -> why it is not loaded

    @classmethod
    def not_loaded(cls, registry: ModelRegistry) -> Resources:
        reason = "not loaded (start-up has not run)"
        return cls(registry=registry, problems={TEXT_MODEL: reason, FORECASTS: reason})


def registry_view(settings: Settings) -> MlflowRegistryView:
    text_name = ModelUri.parse(settings.text_model_uri).name or "gridsense-text"
    return MlflowRegistryView(settings.mlflow_tracking_uri, model_names=(text_name, settings.risk_model_name))


def load_resources(settings: Settings) -> Resources:
    resources = Resources(registry=registry_view(settings))
    try:
        resources.text_service = load_text_service(settings)
    except Exception as exc:
        logger.exception("text model %s not loaded", settings.text_model_uri)
        resources.problems[TEXT_MODEL] = f"{settings.text_model_uri}: {_reason(exc)}"
    try:
        resources.forecast_store = ForecastStore.from_parquet(settings.forecasts_path)
    except Exception as exc:
        logger.exception("forecasts %s not loaded", settings.forecasts_path)
        resources.problems[FORECASTS] = f"{settings.forecasts_path}: {_reason(exc)}"
    return resources


def _reason(exc: Exception) -> str:
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
