"""MLflow pyfunc wrappers around the fitted estimators, and the one way a model is saved or logged
(`save_*_model` for a directory, `log_*_model` into the active run: training uses the latter).

Each wrapper keeps the estimator as a joblib artifact: ``classifier`` for the text model, ``forecaster``
for the risk model. ``load_context`` puts it on ``self.classifier`` / ``self.forecaster``, so serving can
``unwrap_python_model()`` and call the estimator directly. A risk version trained since issue 12 also
carries ``served`` (``models.served_scorer.ServedRiskScorer``: the forecaster with the scorer chosen by
backtest per group, and the baseline it needs), loaded as ``self.served`` (None for older versions);
``predict`` and the batch forecast score with it. A version trained since issue 10 also carries
its validation sample (artifact ``validation_sample``, see ``models.validation_sample``), loaded as
``self.validation_sample`` (None for older versions).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import mlflow
import pandas as pd
import polars as pl
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from features.text import prepare_texts, scrub_text
from models.persistence import load_estimator, save_estimator
from models.validation_sample import ARTIFACT as VALIDATION_ARTIFACT
from models.validation_sample import ValidationSample

TEXT_ARTIFACT = "classifier"
RISK_ARTIFACT = "forecaster"
SERVED_ARTIFACT = "served"
TEXT_OUTPUT_COLUMNS: tuple[str, ...] = (
    "leaf_id",
    "category_l1",
    "category_l2",
    "category_l3",
    "probability",
    "department",
    "risk_group",
    "needs_review",
)
PIP_REQUIREMENTS: tuple[str, ...] = (
    "scikit-learn",
    "lightgbm",
    "numpy",
    "pandas",
    "polars",
    "pyyaml",
    "joblib",
)


class TextClassifierModel(mlflow.pyfunc.PythonModel):
    """Input: a DataFrame with ``text`` and optionally ``title``. Output: one row per report."""

    def load_context(self, context) -> None:
        self.classifier = load_estimator(context.artifacts[TEXT_ARTIFACT])
        self.validation_sample = stored_sample(context)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.predict_with(self.classifier, model_input)

    @staticmethod
    def predict_with(classifier, model_input: pd.DataFrame) -> pd.DataFrame:
        """What ``predict`` returns, for a classifier in memory (used to infer a signature before logging)."""
        texts = report_texts(model_input)
        rows = [
            {
                "leaf_id": p.leaf_id,
                "category_l1": p.category_l1,
                "category_l2": p.category_l2,
                "category_l3": p.category_l3,
                "probability": p.p_l3,
                "department": p.department,
                "risk_group": p.risk_group,
                "needs_review": p.needs_review,
            }
            for p in classifier.describe(texts)
        ]
        return pd.DataFrame(rows, columns=list(TEXT_OUTPUT_COLUMNS), index=model_input.index)


class RiskForecasterModel(mlflow.pyfunc.PythonModel):
    """Input: panel rows with the forecaster's feature columns. Output: ``p_<group>`` per row, from the
    served scorer when the version has one."""

    def load_context(self, context) -> None:
        self.forecaster = load_estimator(context.artifacts[RISK_ARTIFACT])
        served = context.artifacts.get(SERVED_ARTIFACT)
        self.served = load_estimator(served) if served else None
        self.validation_sample = stored_sample(context)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        served = getattr(self, "served", None)
        return self.predict_with(served if served is not None else self.forecaster, model_input)

    @staticmethod
    def predict_with(forecaster, model_input: pd.DataFrame | pl.DataFrame) -> pd.DataFrame:
        probabilities = forecaster.predict_proba(model_input)
        index = model_input.index if isinstance(model_input, pd.DataFrame) else None
        return pd.DataFrame({f"p_{group}": values for group, values in probabilities.items()}, index=index)


def report_texts(model_input: pd.DataFrame) -> list[str]:
    """``title。text`` per row, normalised and redacted the way the training set was built."""
    if "text" not in model_input.columns:
        raise ValueError("model input needs a 'text' column")
    columns = [name for name in ("title", "text") if name in model_input.columns]
    values = {
        name: [None if pd.isna(value) else value for value in model_input[name].tolist()] for name in columns
    }
    return prepared_report_texts(values["text"], values.get("title"))


def prepared_report_texts(texts: Sequence[object], titles: Sequence[object] | None = None) -> list[str]:
    """:func:`report_texts` of plain lists (None for a missing value): what the model reads."""

    def scrubbed(values: Sequence[object]) -> list[str | None]:  # a lone surrogate would make polars raise
        return [None if value is None else scrub_text(str(value)) for value in values]

    # one report is prepared in Python: a polars query's fixed cost would be most of a single call
    return prepare_texts(scrubbed(texts), None if titles is None else scrubbed(titles))


def text_model_signature() -> ModelSignature:
    """Input ``title`` (optional) and ``text``; output as :data:`TEXT_OUTPUT_COLUMNS`. A signature inferred
    from an example would make ``title`` required."""
    inputs = Schema([ColSpec("string", "title", required=False), ColSpec("string", "text")])
    types = {"probability": "double", "needs_review": "boolean"}
    outputs = Schema([ColSpec(types.get(name, "string"), name) for name in TEXT_OUTPUT_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=outputs)


def stored_sample(context) -> ValidationSample | None:
    """The validation sample among a loaded model's artifacts; None for versions registered without one."""
    directory = context.artifacts.get(VALIDATION_ARTIFACT)
    return ValidationSample.load(Path(directory)) if directory else None


def model_artifacts(
    artifact: str,
    estimator,
    directory: Path,
    validation_sample: ValidationSample | None = None,
    extra: dict | None = None,
) -> dict[str, str]:
    """The pyfunc ``artifacts`` of a model, written under `directory`: the estimator, any `extra` named
    estimators and, when given, its validation sample."""
    artifacts = {artifact: str(save_estimator(estimator, directory / f"{artifact}.joblib"))}
    for name, value in (extra or {}).items():
        artifacts[name] = str(save_estimator(value, directory / f"{name}.joblib"))
    if validation_sample is not None:
        artifacts[VALIDATION_ARTIFACT] = str(validation_sample.save(directory / VALIDATION_ARTIFACT))
    return artifacts


def save_text_model(
    classifier, path: str | Path, validation_sample: ValidationSample | None = None, **save_kwargs
) -> Path:
    """Save a fitted text classifier as an MLflow pyfunc model directory (no tracking server involved)."""
    save_kwargs.setdefault("signature", text_model_signature())
    return _save(TextClassifierModel(), TEXT_ARTIFACT, classifier, path, validation_sample, save_kwargs)


def save_risk_model(
    forecaster,
    path: str | Path,
    validation_sample: ValidationSample | None = None,
    served=None,
    **save_kwargs,
) -> Path:
    """Save a fitted risk forecaster (and its served scorer, when given) as an MLflow pyfunc model
    directory."""
    extra = {SERVED_ARTIFACT: served} if served is not None else {}
    return _save(
        RiskForecasterModel(), RISK_ARTIFACT, forecaster, path, validation_sample, save_kwargs, extra
    )


def log_text_model(
    classifier,
    validation_sample: ValidationSample | None,
    example_texts: Sequence[str],
    extra_requirements: Sequence[str] = (),
):
    """Log a fitted text classifier (TF-IDF, transformer, cascade) to the active MLflow run as ``model``:
    the same wrapper and artifacts as :func:`save_text_model`. Returns MLflow's ``ModelInfo``."""
    example = pd.DataFrame({"title": [""] * len(example_texts), "text": list(example_texts)})
    kwargs = {
        "signature": text_model_signature(),  # title optional
        "input_example": example,
        "pip_requirements": [*PIP_REQUIREMENTS, *extra_requirements],
    }
    return _log(TextClassifierModel(), TEXT_ARTIFACT, classifier, validation_sample, kwargs)


def log_risk_model(
    forecaster,
    validation_sample: ValidationSample | None,
    example: pl.DataFrame | None = None,
    served=None,
):
    """Log a fitted risk forecaster to the active MLflow run as ``model`` (as :func:`save_risk_model`),
    with a signature inferred from `example` panel rows when given, and the served scorer (a fitted
    ``models.served_scorer.ServedRiskScorer`` around `forecaster`) when given. Returns MLflow's
    ``ModelInfo``."""
    kwargs: dict = {}
    if example is not None:
        from mlflow.models import infer_signature

        example_pd = example.cast(pl.Float64).to_pandas()  # float: the features may hold missing values
        output = RiskForecasterModel.predict_with(served if served is not None else forecaster, example_pd)
        kwargs = {"signature": infer_signature(example_pd, output), "input_example": example_pd}
    extra = {SERVED_ARTIFACT: served} if served is not None else {}
    return _log(RiskForecasterModel(), RISK_ARTIFACT, forecaster, validation_sample, kwargs, extra)


def _save(
    wrapper: mlflow.pyfunc.PythonModel,
    artifact: str,
    estimator,
    path: str | Path,
    validation_sample: ValidationSample | None,
    kwargs: dict,
    extra: dict | None = None,
) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = model_artifacts(artifact, estimator, Path(tmp), validation_sample, extra)
        mlflow.pyfunc.save_model(str(path), python_model=wrapper, artifacts=artifacts, **_defaults(kwargs))
    return Path(path)


def _log(
    wrapper: mlflow.pyfunc.PythonModel,
    artifact: str,
    estimator,
    validation_sample: ValidationSample | None,
    kwargs: dict,
    extra: dict | None = None,
):
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = model_artifacts(artifact, estimator, Path(tmp), validation_sample, extra)
        return mlflow.pyfunc.log_model(
            name="model", python_model=wrapper, artifacts=artifacts, **_defaults(kwargs)
        )


def _defaults(kwargs: dict) -> dict:
    """Listed requirements skip MLflow's slow inference of them."""
    return {"pip_requirements": list(PIP_REQUIREMENTS)} | kwargs
