"""The checks a registered version must pass before `promote` or `rollback` makes it champion: the same
stored-sample validation serving runs before a hot swap (`models.validation_sample`,
`serving.model_check`), and, for a text version, the taxonomy of the current champion.

- text: loaded from the registry and scored on its stored validation sample through the serving code
  (refused on any error, a malformed answer or a score below its recorded accuracy/macro-F1 minus
  `GRIDSENSE_VALIDATION_TOLERANCE`; without a sample, `GRIDSENSE_UNSAMPLED_MODELS` decides); its
  taxonomy fingerprint must equal the current champion's (a rollback must not change the categories
  the downstream systems receive);
- risk: probabilities on its stored panel rows finite, in [0, 1], one per row and group, as recorded at
  training time; a risk version without a sample is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.settings import Settings

VersionCheck = Callable[[Any, str, str, str | None], str]  # (client, name, version, champion) -> evidence
TAXONOMY_PARAM = "taxonomy.fingerprint"


class VersionRefused(RuntimeError):
    """The version fails a check; the message says which and why."""


def default_version_check(settings: Settings | None = None, migrate_taxonomy: bool = False) -> VersionCheck:
    """The checks; `migrate_taxonomy` lets a version with another taxonomy replace the champion on purpose
    (the live label set changes: downstream systems must expect the new categories)."""
    settings = settings or Settings()

    def check(client: Any, name: str, version: str, champion: str | None) -> str:
        evidence = [_taxonomy(client, name, version, champion, migrate_taxonomy)]
        evidence.append(_stored_sample(name, version, settings))
        return "; ".join(part for part in evidence if part)

    return check


def _taxonomy(client: Any, name: str, version: str, champion: str | None, migrate: bool = False) -> str:
    if champion is None or champion == version:
        return ""
    mine, theirs = (_params(client, name, v).get(TAXONOMY_PARAM) for v in (version, champion))
    if mine is None or theirs is None:
        return ""  # risk models, or runs that did not log it
    if mine != theirs and migrate:
        return f"taxonomy migration: {theirs} (champion {champion}) -> {mine}"
    if mine != theirs:
        raise VersionRefused(
            f"version {version} was trained on another taxonomy ({mine}) than champion {champion} "
            f"({theirs}), which would change the live label set; train the current taxonomy's model, or "
            "promote with --migrate-taxonomy to switch taxonomies on purpose"
        )
    return f"taxonomy {mine} as champion {champion}"


def _stored_sample(name: str, version: str, settings: Settings) -> str:
    import mlflow

    from models.validation_sample import ValidationFailed, check_risk
    from serving.model_check import TextModelCheck
    from serving.text_service import TextClassifierService

    try:
        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()
        sample = getattr(model, "validation_sample", None)
        if hasattr(model, "forecaster"):
            if sample is None:
                raise ValidationFailed("no validation sample is stored with this risk version")
            summary = check_risk(sample, model.forecaster.predict_proba(sample.rows))
        else:
            check = TextModelCheck(lambda _: sample, settings.validation_tolerance, settings.unsampled_models)
            summary = check(TextClassifierService(model.classifier, name, version))
    except Exception as exc:
        raise VersionRefused(f"version {version} fails its validation: {_describe(exc)}") from exc
    return f"validation: {summary}"


def _params(client: Any, name: str, version: str) -> dict[str, str]:
    run_id = client.get_model_version(name, version).run_id
    return dict(client.get_run(run_id).data.params) if run_id else {}


def _describe(exc: BaseException) -> str:
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
