"""Train, evaluate and register the invalid-report model (one MLflow run, `gridsense-invalid`).

Data: an event log with the ground-truth ``invalid_reason`` column (the demo city writes it); every row is
a training example, ``valid`` when the reason is null. The split is by time like the text set's: the
earliest 70% of reports train, the next 15% validate, the latest 15% test. The demo's late templates
(a third of each invalid reason's, a quarter of each leaf's) appear only in the last quarter of the
period, so the test split holds phrasings never seen in training; metrics on them are logged apart
(``test_unseen.*``). At most ``max_valid_train`` valid reports train (seeded sample): the valid class is
large and varied enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from core.errors import DataFileError
from core.registry import DEMO_SITE, INVALID_MODEL_NAME, SITE_TAG, site_model_name
from features.text import prepare_text_expr
from models.invalid_reports import VALID, InvalidReportClassifier, invalid_metrics
from training.tracking import fingerprint, git_commit, register

VALID_SHARE, TEST_SHARE = 0.15, 0.15
MAX_VALID_TRAIN = 60_000


@dataclass(frozen=True)
class InvalidTrainingResult:
    run_id: str
    model_version: str | None
    metrics: dict[str, float]


def invalid_dataset(events: pl.DataFrame) -> pl.DataFrame:
    """``event_id, reported_at, text`` (prepared title + text), ``label`` (valid or a reason),
    ``template_id`` (null when absent) and ``split`` (train/valid/test by time)."""
    if "invalid_reason" not in events.columns:
        raise DataFileError(
            "the event log has no invalid_reason column",
            "train invalid needs ground truth (the demo city's log)",
        )
    title = "title" if "title" in events.columns else None
    template = pl.col("template_id") if "template_id" in events.columns else pl.lit(None, dtype=pl.String)
    rows = events.sort("reported_at").select(
        "event_id",
        "reported_at",
        prepare_text_expr(title, "text").fill_null("").alias("text"),
        pl.col("invalid_reason").fill_null(VALID).replace("", VALID).alias("label"),
        template.alias("template_id"),
    )
    n = rows.height
    valid_from, test_from = int(n * (1 - VALID_SHARE - TEST_SHARE)), int(n * (1 - TEST_SHARE))
    index = pl.int_range(pl.len())
    split = pl.when(index < valid_from).then(pl.lit("train")).when(index < test_from).then(pl.lit("valid"))
    return rows.with_columns(split.otherwise(pl.lit("test")).alias("split"))


def train_invalid_model(
    events: pl.DataFrame,
    events_path: str | Path,
    project_root: Path,
    alias: str | None = "champion",
    params: dict | None = None,
    max_valid_train: int = MAX_VALID_TRAIN,
    seed: int = 0,
    site: str = DEMO_SITE,
) -> InvalidTrainingResult:
    import mlflow

    from models.invalid_pyfunc import log_invalid_model

    data = invalid_dataset(events)
    train = _capped(data.filter(pl.col("split") == "train"), max_valid_train, seed)
    model = InvalidReportClassifier(**(params or {}))
    with mlflow.start_run(run_name="invalid-tfidf-lr") as run:
        mlflow.set_tags({"model": "invalid-tfidf-lr", "git_commit": git_commit(project_root)})
        mlflow.log_params({f"model.{k}": v for k, v in model.get_params().items()})
        mlflow.log_params(fingerprint(events, events_path, "reported_at").as_params())
        mlflow.log_params({f"rows.{s}": data.filter(pl.col("split") == s).height for s in ("valid", "test")})
        mlflow.log_params({"rows.train": train.height, "split_method": "time"})
        model.fit(train["text"].to_list(), train["label"].to_list())
        metrics = evaluate(model, data, set(train["template_id"].drop_nulls()))
        mlflow.log_metrics(metrics)
        example = data.filter(pl.col("split") == "test").head(3).select("text").to_pandas()
        info = log_invalid_model(model, example)
        name, tags = site_model_name(INVALID_MODEL_NAME, site), {SITE_TAG: site}
        version = register(info.model_uri, name, alias, tags=tags) if alias is not None else None
    return InvalidTrainingResult(run.info.run_id, version, metrics)


def evaluate(
    model: InvalidReportClassifier, data: pl.DataFrame, seen_templates: set[str]
) -> dict[str, float]:
    """Metrics on the valid and test splits, and on test reports whose template training never saw."""
    metrics: dict[str, float] = {}
    test = data.filter(pl.col("split") == "test")
    unseen = test.filter(
        pl.col("template_id").is_not_null() & ~pl.col("template_id").is_in(list(seen_templates))
    )
    for name, part in (
        ("valid", data.filter(pl.col("split") == "valid")),
        ("test", test),
        ("test_unseen", unseen),
    ):
        if part.is_empty():
            continue
        decision = model.decide(part["text"].to_list())
        predicted = np.where(decision["invalid"], decision["reason"].fillna(VALID), VALID)
        scores = invalid_metrics(part["label"].to_list(), predicted)
        scores["needs_review_share"] = float(decision["needs_review"].mean())
        scores["rows"] = float(part.height)
        metrics.update({f"{name}.{key}": value for key, value in scores.items()})
    return metrics


def _capped(train: pl.DataFrame, max_valid: int, seed: int) -> pl.DataFrame:
    valid = train.filter(pl.col("label") == VALID)
    if valid.height <= max_valid:
        return train
    return pl.concat([valid.sample(max_valid, seed=seed), train.filter(pl.col("label") != VALID)]).sort(
        "reported_at"
    )
