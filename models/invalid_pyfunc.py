"""The invalid-report model as an MLflow pyfunc: a DataFrame with ``title`` (optional) and ``text`` in,
``invalid`` (bool), ``reason`` (str or None), ``confidence`` and ``needs_review`` out (the contract in
docs/CONTRACTS.md). The input is prepared like the text classifier's (``models.pyfunc.report_texts``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from models.persistence import load_estimator, save_estimator
from models.pyfunc import PIP_REQUIREMENTS, report_texts

ARTIFACT = "invalid_classifier"


class InvalidReportModel(mlflow.pyfunc.PythonModel):
    """Wraps a fitted ``models.invalid_reports.InvalidReportClassifier``."""

    def load_context(self, context) -> None:
        self.classifier = load_estimator(context.artifacts[ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.predict_with(self.classifier, model_input)

    @staticmethod
    def predict_with(classifier, model_input: pd.DataFrame) -> pd.DataFrame:
        return classifier.decide(report_texts(model_input))


def own_classifier(model: object) -> object | None:
    """The fitted classifier inside a loaded pyfunc of :class:`InvalidReportModel` (callers that hold
    plain lists ask it directly: the pyfunc's answer without its DataFrame round trips); None for any
    other model."""
    unwrap = getattr(model, "unwrap_python_model", None)
    try:
        python_model = unwrap() if unwrap is not None else None
    except Exception:  # not a Python model
        return None
    return python_model.classifier if isinstance(python_model, InvalidReportModel) else None


def invalid_model_signature() -> ModelSignature:
    return ModelSignature(
        inputs=Schema([ColSpec("string", "title", required=False), ColSpec("string", "text")]),
        outputs=Schema(
            [
                ColSpec("boolean", "invalid"),
                ColSpec("string", "reason", required=False),
                ColSpec("double", "confidence"),
                ColSpec("boolean", "needs_review"),
            ]
        ),
    )


def log_invalid_model(classifier, example: pd.DataFrame | None = None):
    """Log the classifier as the active run's ``model`` artifact; returns MLflow's ModelInfo."""
    with tempfile.TemporaryDirectory() as tmp:
        path = save_estimator(classifier, Path(tmp) / f"{ARTIFACT}.joblib")
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=InvalidReportModel(),
            artifacts={ARTIFACT: str(path)},
            signature=invalid_model_signature(),
            pip_requirements=list(PIP_REQUIREMENTS),
        )
