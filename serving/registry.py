"""A read-only view of the MLflow model registry for GET /v1/models."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from serving.schemas import ModelsResponse, ModelVersionInfo, RegisteredModelInfo
from serving.settings import sqlite_path

logger = logging.getLogger(__name__)


class ModelRegistry(Protocol):
    def describe(self) -> ModelsResponse: ...


class MlflowRegistryView:
    """Versions, aliases and run metrics of a few registered models. Never raises: errors go in the answer."""

    def __init__(self, tracking_uri: str, model_names: Sequence[str], client: Any = None) -> None:
        self.tracking_uri = tracking_uri
        self.model_names = tuple(model_names)
        self._client = client

    def describe(self) -> ModelsResponse:
        try:
            client = self._get_client()
        except Exception as exc:  # an unreachable registry is reported, not raised
            logger.warning("model registry unavailable: %s", exc)
            return ModelsResponse(
                models=[RegisteredModelInfo(name=name) for name in self.model_names], error=str(exc)
            )
        return ModelsResponse(models=[self._describe_model(client, name) for name in self.model_names])

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version `alias` points at; None when the registry or the alias is not there."""
        try:
            return str(self._get_client().get_model_version_by_alias(name, alias).version)
        except Exception as exc:
            logger.debug("cannot resolve %s@%s: %s", name, alias, exc)
            return None

    def _get_client(self) -> Any:
        if self._client is None:
            database = sqlite_path(self.tracking_uri)
            if database is not None and not database.exists():  # MlflowClient would create an empty one
                raise FileNotFoundError(f"MLflow database {database} does not exist")
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def _describe_model(self, client: Any, name: str) -> RegisteredModelInfo:
        try:
            aliases = _aliases_by_version(client.get_registered_model(name).aliases)
            versions = client.search_model_versions(f"name = '{name}'")
        except Exception as exc:
            logger.warning("cannot read registered model %s: %s", name, exc)
            return RegisteredModelInfo(name=name, error=_short(exc))
        infos = [
            _version_info(client, version, aliases.get(str(version.version), [])) for version in versions
        ]
        return RegisteredModelInfo(name=name, versions=sorted(infos, key=_version_number, reverse=True))


def _aliases_by_version(aliases: dict[str, Any] | None) -> dict[str, list[str]]:
    by_version: dict[str, list[str]] = {}
    for alias, version in sorted((aliases or {}).items()):
        by_version.setdefault(str(version), []).append(alias)
    return by_version


def _version_info(client: Any, version: Any, aliases: list[str]) -> ModelVersionInfo:
    return ModelVersionInfo(
        version=str(version.version),
        aliases=aliases,
        status=getattr(version, "status", None),
        run_id=version.run_id,
        created_at=_from_millis(version.creation_timestamp),
        metrics=_run_metrics(client, version.run_id),
    )


def _run_metrics(client: Any, run_id: str | None) -> dict[str, float]:
    if not run_id:
        return {}
    try:
        metrics = client.get_run(run_id).data.metrics
    except Exception as exc:  # a deleted run must not hide the version
        logger.warning("cannot read metrics of run %s: %s", run_id, exc)
        return {}
    # JSON has no NaN/inf (an undefined metric, e.g. AUC of a single-class split, would break the answer)
    return {key: float(value) for key, value in sorted(metrics.items()) if math.isfinite(value)}


def _version_number(info: ModelVersionInfo) -> int:
    return int(info.version) if info.version.isdigit() else -1


def _from_millis(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp / 1000, tz=UTC) if timestamp else None


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
