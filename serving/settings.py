"""Serving configuration: one typed object, read from GRIDSENSE_* environment variables."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Relative paths (forecasts table, SQLite tracking database) are resolved against `home`."""

    model_config = SettingsConfigDict(env_prefix="GRIDSENSE_", extra="ignore")

    home: Path = Field(
        default=Path("."), description="Project root (GRIDSENSE_HOME, as for the training CLI)."
    )
    mlflow_tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    text_model_uri: str = "models:/gridsense-text@champion"
    risk_model_name: str = "gridsense-risk"
    forecasts_path: Path = Path("datasets/demo/forecasts/latest.parquet")
    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    max_text_chars: int = Field(default=5000, ge=1)
    max_batch: int = Field(default=256, ge=1)
    top_k: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _resolve_relative_paths(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        self.forecasts_path = self.home / self.forecasts_path  # an absolute path stays as it is
        self.mlflow_tracking_uri = resolve_tracking_uri(self.mlflow_tracking_uri, self.home)
        return self


def resolve_tracking_uri(uri: str, home: Path) -> str:
    """Make a relative SQLite or plain-path store absolute; other URIs (http, file:///...) pass through."""
    parts = urlsplit(uri)
    if parts.scheme == "sqlite" and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{home / uri.removeprefix('sqlite:///')}"
    if parts.scheme == "" and not Path(uri).is_absolute():
        return str(home / uri)
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///"))
