"""Train, evaluate and register the transformer text classifier, alone or in a cascade (one MLflow run).

The run fits the TF-IDF model and the transformer on the train split, scores TF-IDF, transformer and
cascade on (a sample of) the later test split, logs all three sets of metrics, the transformer's
calibration and training record, the cascade's routing, plots, and the served composition as an MLflow
pyfunc (signature + input example). It registers a new ``gridsense-text`` version under ``alias``
(``challenger`` by default: ``gridsense promote text`` decides whether it becomes champion).

Schedules (:data:`SCHEDULES`):

- ``full``: the tipdm benchmark setting (first 4 of e5's 12 layers, title + text cut to 96 tokens,
  3 epochs over every row).
- ``demo``: for ``make demo``'s 15-minute budget: 2 layers, 48 tokens, 2 epochs over at most 3,000
  stratified rows with higher learning rates, and fine-tuning stopped after 4 minutes whatever happens
  (about 3.5 minutes on a shared 2-core machine; leaf macro-F1 0.72 over the demo's 112 leaves, so on the
  demo the TF-IDF model stays the better one and the registry keeps it as champion).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from core.registry import DEMO_SITE
from features.taxonomy import Taxonomy
from models.pyfunc import log_text_model
from training.train_text import TextTrainingResult

SCHEDULES: dict[str, dict[str, Any]] = {
    "full": {"num_layers": 4, "max_length": 96, "epochs": 3.0},
    "demo": {
        "num_layers": 2,
        "max_length": 48,
        "epochs": 2.0,
        "learning_rate": 3e-4,
        "head_learning_rate": 1e-2,
        "max_train_rows": 3000,
        "max_train_minutes": 4.0,
    },
}
COMPOSITIONS = ("cascade", "transformer")
RUNTIMES = ("torch", "onnx")
TRANSFORMER_REQUIREMENTS = ("torch==2.13.0", "transformers>=4.45,<6", "tokenizers", "scipy")


def transformer_requirements(runtime: str) -> tuple[str, ...]:
    """What a transformer or cascade version needs beyond the base model requirements."""
    return TRANSFORMER_REQUIREMENTS + (("onnxruntime",) if runtime == "onnx" else ())


def schedule_params(name: str) -> dict[str, Any]:
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")
    return dict(SCHEDULES[name])


def train_transformer_model(
    dataset: pl.DataFrame,
    taxonomy: Taxonomy,
    dataset_path: str | Path,
    project_root: Path,
    alias: str | None = "challenger",
    schedule: str = "demo",
    composition: str = "cascade",
    cascade_threshold: float = 0.8,
    cascade_blend: float = 0.5,
    max_eval_rows: int | None = 3000,
    params: dict | None = None,
    fast_model=None,
    runtime: str = "torch",
    site: str = DEMO_SITE,
) -> TextTrainingResult:
    """One MLflow run in the active experiment; returns the served composition's test metrics (and the
    TF-IDF model's as the baseline). ``fast_model``: an already fitted TF-IDF model to reuse (e.g. the
    one ``gridsense train text`` just registered) instead of fitting another. ``runtime="onnx"`` serves the
    transformer through ONNX Runtime with int8 weights (needs ``onnxruntime`` and ``onnx``)."""
    import mlflow

    from core.registry import SITE_TAG, TEXT_MODEL_NAME, site_model_name
    from models.text_cascade import CascadeTextClassifier
    from models.text_tfidf import TfidfTextClassifier
    from models.text_transformer import TransformerTextClassifier
    from models.validation_sample import text_sample
    from training.tracking import git_commit, register
    from training.train_text import log_validation_sample_metrics, text_data_params

    if composition not in COMPOSITIONS:
        raise ValueError(f"composition must be one of {COMPOSITIONS}")
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}")
    train = dataset.filter(pl.col("split") == "train")
    test = _sample(dataset.filter(pl.col("split") == "test"), max_eval_rows)
    transformer = TransformerTextClassifier(taxonomy=taxonomy, **(schedule_params(schedule) | (params or {})))

    with mlflow.start_run(run_name=f"text-{composition}") as run:
        tags = {"model": composition, "schedule": schedule, "taxonomy": taxonomy.name, "runtime": runtime}
        mlflow.set_tags(tags | {"git_commit": git_commit(project_root)})
        mlflow.log_params({f"transformer.{k}": v for k, v in _loggable(transformer.get_params()).items()})
        mlflow.log_params(text_data_params(dataset, dataset_path, taxonomy, train, test))
        mlflow.log_params(
            {
                "cascade.confidence_threshold": cascade_threshold,
                "cascade.blend": cascade_blend,
                "cascade.tfidf_reused": fast_model is not None,
            }
        )

        texts, labels = train.get_column("text").to_list(), train.get_column("leaf_id").to_list()
        tfidf = (
            fast_model
            if fast_model is not None
            else TfidfTextClassifier(taxonomy=taxonomy).fit(texts, labels)
        )
        transformer.fit(texts, labels, _secondary(train))
        mlflow.log_metrics(_training_metrics(transformer))
        strong = _on_runtime(transformer, runtime)
        cascade = CascadeTextClassifier.from_fitted(
            tfidf, strong, confidence_threshold=cascade_threshold, blend=cascade_blend
        )

        served = cascade if composition == "cascade" else strong
        metrics, served_probs = _evaluate_all(test, taxonomy, cascade, composition)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)})
        _log_plots(served_probs, np.asarray(served.classes_, dtype=object), test, taxonomy)
        sample = text_sample(test, served)
        log_validation_sample_metrics(sample)
        model_info = log_text_model(
            served, sample, test.get_column("text").to_list()[:3], transformer_requirements(runtime)
        )
        name, tags = site_model_name(TEXT_MODEL_NAME, site), tags | {SITE_TAG: site}
        version = register(model_info.model_uri, name, alias, tags=tags) if alias else None
    served_metrics = {k.removeprefix("test."): v for k, v in metrics.items() if k.startswith("test.")}
    tfidf_metrics = {k.removeprefix("tfidf."): v for k, v in metrics.items() if k.startswith("tfidf.")}
    return TextTrainingResult(run.info.run_id, version, served_metrics, tfidf_metrics)


def _sample(frame: pl.DataFrame, max_rows: int | None) -> pl.DataFrame:
    if max_rows is None or frame.height <= max_rows:
        return frame
    return frame.sample(n=max_rows, seed=0).sort("reported_at")


def _secondary(train: pl.DataFrame) -> list | None:
    return train.get_column("secondary_leaf_id").to_list() if "secondary_leaf_id" in train.columns else None


def _loggable(params: dict) -> dict:
    skip = ("taxonomy", "progress")
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items() if k not in skip}


def _training_metrics(transformer) -> dict[str, float]:
    record = transformer.training_ | {f"calibration_{k}": v for k, v in transformer.calibration_.items()}
    return {f"transformer.{k}": float(v) for k, v in record.items() if isinstance(v, int | float)}


def _evaluate_all(test: pl.DataFrame, taxonomy: Taxonomy, cascade, composition: str):
    """Metrics of TF-IDF, transformer and cascade from one pass of each component over the test rows; the
    served composition's also as ``test.*`` (the keys the TF-IDF run uses). Returns (metrics, the served
    composition's probabilities)."""
    texts = test.get_column("text").to_list()
    y = np.asarray(test.get_column("leaf_id").to_list(), dtype=object)
    fast = np.asarray(cascade.fast_.predict_proba(texts))
    strong = np.asarray(cascade.strong_.predict_proba(texts))[:, cascade.strong_columns_]
    to_strong = fast.max(axis=1) < cascade.confidence_threshold
    routed = cascade.blend * fast + (1.0 - cascade.blend) * strong
    probabilities = {
        "tfidf": fast,
        "transformer": strong,
        "cascade": np.where(to_strong[:, None], routed, fast),
    }
    classes = np.asarray(cascade.classes_, dtype=object)
    metrics: dict[str, float] = {}
    for name, probs in probabilities.items():
        scores = _scores(probs, classes, y, taxonomy, cascade.review_threshold)
        metrics |= {f"{name}.{k}": v for k, v in scores.items()}
        if name == composition:
            metrics |= {f"test.{k}": v for k, v in scores.items()}
    correct = classes[probabilities["cascade"].argmax(axis=1)] == y
    metrics["cascade.share_to_transformer"] = float(to_strong.mean())
    if to_strong.any():
        metrics["cascade.accuracy_transformer_path"] = float(correct[to_strong].mean())
    if (~to_strong).any():
        metrics["cascade.accuracy_tfidf_path"] = float(correct[~to_strong].mean())
    return metrics, probabilities[composition]


def _scores(probs: np.ndarray, classes: np.ndarray, y: np.ndarray, taxonomy: Taxonomy, review: float) -> dict:
    from models.scoring import expected_calibration_error, text_metrics

    predicted = classes[probs.argmax(axis=1)]
    confidence = probs.max(axis=1)
    correct = (predicted == y).astype(int)
    answered = confidence >= review
    return text_metrics(y, predicted, taxonomy) | {
        "ece_leaf": expected_calibration_error(confidence, correct),
        "coverage": float(answered.mean()),
        "accuracy_answered": float(correct[answered].mean()) if answered.any() else 0.0,
    }


def _log_plots(probs: np.ndarray, classes: np.ndarray, test: pl.DataFrame, taxonomy: Taxonomy) -> None:
    import mlflow

    from training import plots

    y = np.asarray(test.get_column("leaf_id").to_list(), dtype=object)
    predicted = classes[probs.argmax(axis=1)]
    confidence, correct = probs.max(axis=1), (predicted == y).astype(int)
    l1_true, l1_pred = [taxonomy.leaf(v).l1 for v in y], [taxonomy.leaf(v).l1 for v in predicted]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        plots.confusion_matrix_plot(l1_true, l1_pred, taxonomy.level1, out / "confusion_l1.png")
        plots.reliability_plot(confidence, correct, out / "reliability_leaf.png", title="leaf confidence")
        plots.coverage_curve_plot(confidence, correct, out / "coverage_accuracy.png")
        mlflow.log_artifacts(str(out), artifact_path="plots")


def _on_runtime(transformer, runtime: str):
    if runtime == "onnx":
        from models.text_onnx import OnnxTextClassifier

        return OnnxTextClassifier.from_transformer(
            transformer, quantize=True, num_threads=transformer.num_threads
        )
    return transformer


def registered_tfidf(alias: str, site: str = DEMO_SITE):
    """The TF-IDF model behind ``models:/gridsense-text@alias`` (the site's text model; the fast stage of a
    cascade), or None when that version is not a plain TF-IDF model."""
    import mlflow

    from core.registry import TEXT_MODEL_NAME, model_uri, site_model_name
    from models.text_tfidf import TfidfTextClassifier

    uri = model_uri(site_model_name(TEXT_MODEL_NAME, site), alias)
    classifier = mlflow.pyfunc.load_model(uri).unwrap_python_model().classifier
    return classifier if isinstance(classifier, TfidfTextClassifier) else None
