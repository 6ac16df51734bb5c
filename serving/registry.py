"""A read-only view of the MLflow model registry for GET /v1/models."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from core.registry import RegisteredVersion, alias_version, read_versions
from core.settings import sqlite_path
from serving.schemas import ModelsResponse, ModelVersionInfo, RegisteredModelInfo

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
            client = self._get_client()
        except Exception as exc:
            logger.debug("cannot resolve %s@%s: %s", name, alias, exc)
            return None
        return alias_version(client, name, alias)

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
            versions = read_versions(client, name)
        except Exception as exc:
            logger.warning("cannot read registered model %s: %s", name, exc)
            return RegisteredModelInfo(name=name, error=_short(exc))
        return RegisteredModelInfo(name=name, versions=[_version_info(version) for version in versions])


def _version_info(version: RegisteredVersion) -> ModelVersionInfo:
    return ModelVersionInfo(
        version=version.version,
        aliases=version.aliases,
        status=version.status,
        run_id=version.run_id,
        created_at=version.created_at,
        metrics=version.metrics,
    )


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
