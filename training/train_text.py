"""Train, evaluate and register the TF-IDF text classifier (one MLflow run)."""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from core.registry import (
    CORRECTIONS_ARTIFACT_DIR,
    CORRECTIONS_HOLDOUT_FILE,
    DEMO_SITE,
    SITE_TAG,
    TEXT_MODEL_NAME,
    site_model_name,
)
from features.corrections import HOLDOUT, TRAIN
from features.taxonomy import Taxonomy
from features.text_dataset import TIME_SPLIT, split_method
from models.baselines import MostFrequentTextBaseline
from models.pyfunc import log_text_model
from models.scoring import expected_calibration_error, text_metrics
from models.text_tfidf import TfidfTextClassifier
from models.validation_sample import ValidationSample, text_sample
from training import plots
from training.tracking import fingerprint, git_commit, register


@dataclass
class TextTrainingResult:
    run_id: str
    model_version: str | None
    metrics: dict[str, float]
    baseline_metrics: dict[str, float] = field(default_factory=dict)


def text_data_params(
    dataset: pl.DataFrame,
    dataset_path: str | Path,
    taxonomy: Taxonomy,
    train: pl.DataFrame,
    test: pl.DataFrame,
) -> dict[str, object]:
    """What a text-model run logs about its data: the data fingerprint, the taxonomy and the split sizes."""
    return fingerprint(dataset, dataset_path, "reported_at").as_params() | {
        "taxonomy.version": taxonomy.version,
        "taxonomy.fingerprint": taxonomy.fingerprint,
        "split.train_rows": train.height,
        "split.test_rows": test.height,
    }


def train_text_model(
    dataset: pl.DataFrame,
    taxonomy: Taxonomy,
    dataset_path: str | Path,
    project_root: Path,
    alias: str | None = "champion",
    params: dict | None = None,
    site: str = DEMO_SITE,
    corrections: pl.DataFrame | None = None,
    correction_weight: float = 1.0,
    corrections_source: str = "",
) -> TextTrainingResult:
    """Fit on the train split, score on the later test split against the majority baseline,
    log everything to the active MLflow experiment and register a new version of the site's text model
    (`gridsense-text` for the demo, tagged with the site).

    `corrections` (``features.corrections.corrections_frame``): people's labels, its `train` rows added to
    the training set `correction_weight` times each (rounded), its held-out newest rows scored and logged
    for the promotion gate; both logged as MLflow dataset inputs with `corrections_source`."""
    import mlflow

    train = dataset.filter(pl.col("split") == "train")
    test = dataset.filter(pl.col("split") == "test")
    has_corrections = corrections is not None and not corrections.is_empty()
    model = TfidfTextClassifier(taxonomy=taxonomy, **(params or {}))
    baseline = MostFrequentTextBaseline()

    with mlflow.start_run(run_name="text-tfidf") as run:
        mlflow.set_tags({"model": "tfidf", "git_commit": git_commit(project_root), "taxonomy": taxonomy.name})
        mlflow.log_params({f"model.{k}": v for k, v in model.get_params().items() if k != "taxonomy"})
        mlflow.log_params(text_data_params(dataset, dataset_path, taxonomy, train, test))
        mlflow.log_params(_split_params(dataset, test))

        texts_train = train.get_column("text").to_list()
        labels_train = train.get_column("leaf_id").to_list()
        if has_corrections:
            extra = _log_corrections(corrections, correction_weight, corrections_source, taxonomy)
            repeats = max(1, round(correction_weight))
            texts_train += extra.get_column("text").to_list() * repeats
            labels_train += extra.get_column("leaf_id").to_list() * repeats
        model.fit(texts_train, labels_train)
        baseline.fit(texts_train, labels_train)

        texts_test = test.get_column("text").to_list()
        y_test = test.get_column("leaf_id").to_list()
        proba = model.predict_proba(texts_test)
        y_pred = model.classes_[proba.argmax(axis=1)]
        metrics = text_metrics(y_test, y_pred, taxonomy)
        confidence = proba.max(axis=1)
        correct = (y_pred == np.asarray(y_test)).astype(int)
        metrics["ece_leaf"] = expected_calibration_error(confidence, correct)
        metrics.update(_review_metrics(confidence, correct, model.review_threshold))
        metrics.update(_unseen_template_metrics(train, test, y_pred, taxonomy))
        if has_corrections:
            metrics.update(corrections_holdout_metrics(model, corrections, taxonomy))
        baseline_metrics = text_metrics(y_test, baseline.predict(texts_test), taxonomy)
        mlflow.log_metrics({f"test.{k}": float(v) for k, v in metrics.items()})
        mlflow.log_metrics({f"baseline_most_frequent.{k}": float(v) for k, v in baseline_metrics.items()})

        _log_plots(taxonomy, y_test, y_pred, confidence, correct)
        sample = text_sample(test, model)
        log_validation_sample_metrics(sample)
        model_info = log_text_model(model, sample, texts_test[:3])
        name, tags = site_model_name(TEXT_MODEL_NAME, site), {SITE_TAG: site}
        version = register(model_info.model_uri, name, alias, tags=tags) if alias is not None else None
    return TextTrainingResult(run.info.run_id, version, metrics, baseline_metrics)


def _log_corrections(
    corrections: pl.DataFrame, weight: float, source: str, taxonomy: Taxonomy
) -> pl.DataFrame:
    """Log the corrections as dataset inputs (trained on / held out) and their counts; the held-out rows
    as the artifact the promotion gate reads. Returns the rows to train on."""
    import mlflow

    known = set(taxonomy.leaf_ids)
    usable = corrections.filter(pl.col("leaf_id").is_in(known))
    trained, held = usable.filter(pl.col("split") == TRAIN), usable.filter(pl.col("split") == HOLDOUT)
    for frame, context in ((trained, "training"), (held, HOLDOUT)):
        if not frame.is_empty():
            # MLflow warns that a local path "can be interpreted in multiple ways": it is a file
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "The specified dataset source", UserWarning)
                dataset = mlflow.data.from_pandas(
                    frame.to_pandas(), source=source or None, name=f"corrections-{context}"
                )
            mlflow.log_input(dataset, context=context)
    mlflow.log_params(
        {
            "corrections.rows": usable.height,
            "corrections.trained": trained.height,
            "corrections.held_out": held.height,
            "corrections.unknown_leaf": corrections.height - usable.height,
            "corrections.weight": weight,
            "corrections.source": source,
        }
    )
    if not held.is_empty():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / CORRECTIONS_HOLDOUT_FILE
            held.write_parquet(path)
            mlflow.log_artifact(str(path), artifact_path=CORRECTIONS_ARTIFACT_DIR)
    return trained


def corrections_holdout_metrics(model, corrections: pl.DataFrame, taxonomy: Taxonomy) -> dict[str, float]:
    """The model's scores on the held-out newest corrections (what the gate compares), if any."""
    held = corrections.filter((pl.col("split") == HOLDOUT) & pl.col("leaf_id").is_in(set(taxonomy.leaf_ids)))
    if held.is_empty():
        return {}
    return {f"{HOLDOUT}.{k}": v for k, v in holdout_scores(model, held, taxonomy).items()}


def holdout_scores(model, held: pl.DataFrame, taxonomy: Taxonomy) -> dict[str, float]:
    truth = np.asarray(held.get_column("leaf_id").to_list())
    predicted = np.asarray(model.predict(held.get_column("text").to_list()))
    return {"accuracy": float((predicted == truth).mean()), "rows": float(len(truth))} | text_metrics(
        truth, predicted, taxonomy
    )


def _split_params(dataset: pl.DataFrame, test: pl.DataFrame) -> dict[str, str]:
    """How the set was split (``features.text_dataset``); a time split also says where test starts."""
    method = split_method(dataset)
    if method != TIME_SPLIT:
        return {"split.method": method}
    return {"split.method": method, "split.test_from": str(test.get_column("reported_at").min())}


def log_validation_sample_metrics(sample: ValidationSample) -> None:
    """What the model scored on its stored validation sample: the floor of the pre-serving check."""
    import mlflow

    mlflow.log_metrics({f"validation_sample.{k}": float(v) for k, v in sample.recorded.items()})
    mlflow.log_param("validation_sample.rows", sample.rows.height)


def _review_metrics(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> dict[str, float]:
    answered = confidence >= threshold
    return {
        "review_threshold": threshold,
        "coverage": float(answered.mean()),
        "accuracy_answered": float(correct[answered].mean()) if answered.any() else 0.0,
    }


def _unseen_template_metrics(train: pl.DataFrame, test: pl.DataFrame, y_pred, taxonomy: Taxonomy) -> dict:
    """Scores on test reports whose phrasing (template) never occurred in training, where the log says."""
    if "template_id" not in test.columns:
        return {}
    seen = train.get_column("template_id").drop_nulls().unique().implode()
    unseen = test.select(pl.col("template_id").is_not_null() & ~pl.col("template_id").is_in(seen)).to_series()
    mask = unseen.to_numpy()
    if not mask.any():
        return {"unseen_templates.share": 0.0}
    scores = text_metrics(
        np.asarray(test.get_column("leaf_id").to_list())[mask], np.asarray(y_pred)[mask], taxonomy
    )
    return {"unseen_templates.share": float(mask.mean())} | {
        f"unseen_templates.{k}": v for k, v in scores.items()
    }


def _log_plots(taxonomy: Taxonomy, y_test, y_pred, confidence: np.ndarray, correct: np.ndarray) -> None:
    import mlflow

    l1_true = [taxonomy.leaf(y).l1 for y in y_test]
    l1_pred = [taxonomy.leaf(y).l1 for y in y_pred]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        plots.confusion_matrix_plot(l1_true, l1_pred, taxonomy.level1, out / "confusion_l1.png")
        (out / "confusion_l1_labels.json").write_text(
            json.dumps(dict(enumerate(taxonomy.level1)), ensure_ascii=False, indent=1), encoding="utf-8"
        )
        plots.reliability_plot(confidence, correct, out / "reliability_leaf.png", title="leaf confidence")
        plots.coverage_curve_plot(confidence, correct, out / "coverage_accuracy.png")
        mlflow.log_artifacts(str(out), artifact_path="plots")
