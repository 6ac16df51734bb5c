"""The MLflow registry: the names of the registered models, their aliases and experiments (one home for
each; training registers under them, serving and the batch jobs load by them), and the one reader of
its versions that the API and the CLI share."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

TEXT_MODEL_NAME = "gridsense-text"
RISK_MODEL_NAME = "gridsense-risk"
MODEL_NAMES: tuple[str, ...] = (TEXT_MODEL_NAME, RISK_MODEL_NAME)

CHAMPION = "champion"  # the version serving and the batch forecast use
CHALLENGER = "challenger"  # a retrained version waiting for `gridsense promote`

TEXT_EXPERIMENT = TEXT_MODEL_NAME
RISK_EXPERIMENT = RISK_MODEL_NAME
# `gridsense benchmark risk` runs and registers apart, so a benchmark never adds a version to the served name
RISK_BENCHMARK_NAME = "gridsense-risk-benchmark"
# The invalid-report model (`gridsense train invalid`): registered apart from MODEL_NAMES (not a served
# site model yet); its pyfunc takes `title`, `text` and returns `invalid`, `reason`, `confidence`.
INVALID_MODEL_NAME = "gridsense-invalid"
INVALID_EXPERIMENT = INVALID_MODEL_NAME


# a text run trained with people's corrections logs its held-out newest corrections here; the gate reads it
CORRECTIONS_ARTIFACT_DIR = "corrections"
CORRECTIONS_HOLDOUT_FILE = "holdout.parquet"

DEMO_SITE = "demo"  # the synthetic demo city: its models keep the bare names above
SITE_TAG = "site"  # the version tag naming the site a version was trained for


def site_model_name(name: str, site: str) -> str:
    """The registered name of model `name` (TEXT_MODEL_NAME, RISK_MODEL_NAME, ...) for `site`: the demo
    keeps the bare name, another site gets its own (`gridsense-risk-chicago`), so one site's training and
    promotion never add versions to another's. Settings defaults, training, promotion and serving all take
    their names from here."""
    return name if site == DEMO_SITE else f"{name}-{site}"


def site_model_names(site: str) -> tuple[str, ...]:
    """Every registered name of `site`, in the order of MODEL_NAMES."""
    return tuple(site_model_name(name, site) for name in MODEL_NAMES)


def base_model_name(name: str) -> str:
    """The model a registered name is a site's copy of (`gridsense-risk-chicago` -> `gridsense-risk`); a
    name of no known model is returned as it is."""
    for base in sorted(MODEL_NAMES, key=len, reverse=True):
        if name == base or name.startswith(f"{base}-"):
            return base
    return name


def model_uri(name: str, alias: str = CHAMPION) -> str:
    """`models:/<name>@<alias>`, the URI MLflow loads a registered version by."""
    return f"models:/{name}@{alias}"


# ---- reading the registry (GET /v1/models, `gridsense models`, promotion) ---------------------------------
@dataclass(frozen=True)
class RegisteredVersion:
    """One registered version as both the API and the CLI show it."""

    name: str
    version: str
    aliases: list[str]
    status: str | None
    run_id: str | None
    created_at: datetime | None
    metrics: dict[str, float]  # the run's metrics; NaN and infinities left out (JSON has none)
    tags: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)  # which data and taxonomy: PROVENANCE_PARAMS


# the run parameters that say what a version was trained on (logged by the trainings in training/)
PROVENANCE_PARAMS: tuple[str, ...] = (
    "data.path",
    "data.rows",
    "data.time_from",
    "data.time_to",
    "data.content_hash",
    "taxonomy.version",
    "taxonomy.fingerprint",
)


def read_versions(client: Any, name: str) -> list[RegisteredVersion]:
    """Every version of `name`, newest first, with its aliases, run metrics and tags. Raises what the
    client raises when the registry or the model cannot be read."""
    aliases = _aliases_by_version(client.get_registered_model(name).aliases)
    versions = []
    for version in client.search_model_versions(f"name = '{name}'"):
        run = _run(client, version.run_id)
        versions.append(
            RegisteredVersion(
                name=name,
                version=str(version.version),
                aliases=aliases.get(str(version.version), []),
                status=getattr(version, "status", None),
                run_id=version.run_id,
                created_at=_from_millis(version.creation_timestamp),
                metrics=_finite(run.data.metrics) if run else {},
                tags=dict(getattr(version, "tags", None) or {}),
                provenance=_provenance(getattr(run.data, "params", None) or {}) if run else {},
            )
        )
    return sorted(versions, key=lambda v: int(v.version) if v.version.isdigit() else -1, reverse=True)


def alias_version(client: Any, name: str, alias: str) -> str | None:
    """The version `alias` points at; None when the model or the alias is not there."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except Exception as exc:  # MLflow raises its own types for "not found"
        logger.debug("cannot resolve %s@%s: %s", name, alias, exc)
        return None


def run_metrics(client: Any, run_id: str | None) -> dict[str, float]:
    """The finite metrics of a run; empty when there is no run or it cannot be read (a deleted run must
    not hide its version)."""
    run = _run(client, run_id)
    return _finite(run.data.metrics) if run else {}


def _run(client: Any, run_id: str | None) -> Any:
    if not run_id:
        return None
    try:
        return client.get_run(run_id)
    except Exception as exc:
        logger.warning("cannot read run %s: %s", run_id, exc)
        return None


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {key: float(value) for key, value in sorted(metrics.items()) if math.isfinite(value)}


def _provenance(params: dict[str, str]) -> dict[str, str]:
    return {key: params[key] for key in PROVENANCE_PARAMS if key in params}


def _aliases_by_version(aliases: dict[str, Any] | None) -> dict[str, list[str]]:
    by_version: dict[str, list[str]] = {}
    for alias, version in sorted((aliases or {}).items()):
        by_version.setdefault(str(version), []).append(alias)
    return by_version


def _from_millis(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp / 1000, tz=UTC) if timestamp else None
