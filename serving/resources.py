"""What the app serves: the text model and the forecasts table as hot-swappable components, and a view
of the registry. A component that fails to load is recorded, not fatal: /readyz says so."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from core.registry import CHAMPION, RISK_MODEL_NAME, TEXT_MODEL_NAME
from core.settings import Settings
from models.validation_sample import load_from_model_dir
from serving.forecast_store import ForecastFileSource, ForecastStore
from serving.forecast_store import smoke_test as forecast_smoke_test
from serving.hot_swap import HotSwap, ReloadEvent
from serving.model_check import TextModelCheck
from serving.registry import MlflowRegistryView, ModelRegistry
from serving.text_service import MlflowTextModelSource, ModelUri, TextClassifierService

logger = logging.getLogger(__name__)

TEXT_MODEL = "text_model"
FORECASTS = "forecasts"

Listener = Callable[[ReloadEvent], None]


@dataclass
class Resources:
    registry: ModelRegistry
    text: HotSwap[TextClassifierService]
    forecasts: HotSwap[ForecastStore]
    risk_model_name: str = RISK_MODEL_NAME
    risk_model_alias: str = CHAMPION
    risk_champion_version: str | None = None  # where the registry's risk alias points, when known
    text_enabled: bool = True  # False: a site without texts serves risk only (Settings.serve_text)
    risk_enabled: bool = True  # False: a text-only site serves no forecasts (Settings.serve_risk)

    @classmethod
    def fixed(
        cls,
        registry: ModelRegistry,
        text_service: TextClassifierService | None = None,
        forecast_store: ForecastStore | None = None,
    ) -> Resources:
        """Components that never change (tests; nothing loaded yet when both are None)."""
        text_version = (text_service.model.version if text_service else None) or "fixed"
        return cls(
            registry=registry,
            text=HotSwap.fixed(TEXT_MODEL, text_service, version=text_version),
            forecasts=HotSwap.fixed(FORECASTS, forecast_store),
        )

    @classmethod
    def not_loaded(cls, registry: ModelRegistry) -> Resources:
        return cls.fixed(registry)

    @property
    def text_service(self) -> TextClassifierService | None:
        return self.text.value

    @property
    def forecast_store(self) -> ForecastStore | None:
        return self.forecasts.value

    @property
    def components(self) -> dict[str, HotSwap]:
        """What the app loads and /readyz waits for (a site may serve text only or risk only)."""
        served = {TEXT_MODEL: self.text} if self.text_enabled else {}
        return served | ({FORECASTS: self.forecasts} if self.risk_enabled else {})

    def refresh(self, trigger: str) -> list[ReloadEvent]:
        """Check every component for a new version (slow when one loads: call it off the event loop)."""
        events = [component.refresh(trigger) for component in self.components.values()]
        lookup = getattr(self.registry, "alias_version", None)
        if lookup is not None:
            self.risk_champion_version = lookup(self.risk_model_name, self.risk_model_alias)
        return events


def registry_view(settings: Settings) -> MlflowRegistryView:
    text_name = ModelUri.parse(settings.text_model_uri).name or TEXT_MODEL_NAME
    return MlflowRegistryView(settings.mlflow_tracking_uri, model_names=(text_name, settings.risk_model_name))


def text_model_check(source: MlflowTextModelSource, settings: Settings) -> TextModelCheck:
    """Each version is checked on the validation sample stored in its cached model directory."""
    return TextModelCheck(
        sample_for=lambda version: load_from_model_dir(source.cache.path_of(version)),
        tolerance=settings.validation_tolerance,
        unsampled=settings.unsampled_models,
    )


def build_resources(settings: Settings, listeners: list[Listener] | None = None) -> Resources:
    """Wire the components to their sources; loads nothing (`Resources.refresh` does)."""
    text_source = MlflowTextModelSource(settings)
    check = text_model_check(text_source, settings)
    return Resources(
        registry=registry_view(settings),
        text=HotSwap(TEXT_MODEL, text_source, smoke_test=check, listeners=listeners, recheck=check.recheck),
        forecasts=HotSwap(
            FORECASTS, ForecastFileSource(settings.forecasts_path), forecast_smoke_test, listeners=listeners
        ),
        risk_model_name=settings.risk_model_name,
        risk_model_alias=settings.risk_model_alias,
        text_enabled=settings.serve_text,
        risk_enabled=settings.serve_risk,
    )
