"""A validation sample stored with every registered model version, and the check that re-scores the
version on it.

At training time a few hundred held-out rows (text: the test split's reports, PII-redacted, with their
labels; risk: test-window panel rows) are scored by the fitted model, and rows plus scores are saved
inside the model's pyfunc artifacts (artifact ``validation_sample``: ``rows.parquet`` + ``meta.json``).
Before a version is served (hot swap), promoted or rolled back to, it is scored again on its own sample:

- text: every row must get an answer, and accuracy and macro-F1 against the labels may not fall more
  than ``tolerance`` (``GRIDSENSE_VALIDATION_TOLERANCE``) below what the model scored on the same rows
  at training time;
- risk: one finite probability in [0, 1] per row and group, within ``tolerance`` (default 0.001) of
  the probability recorded at training time (a booster predicts deterministically, so only float
  noise is allowed; a constant answer fails even where every probability is small).

A model that answers one fixed sentence, raises on most inputs or answers constant garbage fails. The
floor is the model's own recorded score, so the check is about the artifact working as trained, not
about how good the model is (that is the promotion gate's job); the one absolute rule is that a text
model must beat always answering the sample's most frequent label.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import yaml

from features.text import redact_pii
from models.scoring import accuracy, macro_f1

ARTIFACT = "validation_sample"
ROWS_FILE = "rows.parquet"
META_FILE = "meta.json"
SAMPLE_ROWS = 200
DEFAULT_PROBABILITY_TOLERANCE = 1e-3  # risk: largest allowed difference from a recorded probability
TEXT_METRICS = ("accuracy_leaf", "macro_f1_leaf")
EXPECTED_PREFIX = "expected.p_"  # risk: the probability recorded at training time, per group


class ValidationFailed(ValueError):
    """The version failed on its validation sample; the message says how."""


@dataclass(frozen=True)
class ValidationSample:
    kind: Literal["text", "risk"]
    rows: pl.DataFrame
    recorded: dict[str, float]  # what the model scored on these rows when it was trained
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        return self.rows.get_column("text").to_list()

    @property
    def labels(self) -> list[str]:
        return self.rows.get_column("leaf_id").to_list()

    @property
    def groups(self) -> list[str]:
        return [c.removeprefix(EXPECTED_PREFIX) for c in self.rows.columns if c.startswith(EXPECTED_PREFIX)]

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.rows.write_parquet(directory / ROWS_FILE)
        meta = {"kind": self.kind, "recorded": self.recorded, "rows": self.rows.height, **self.meta}
        (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: Path) -> ValidationSample:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        kind, recorded = meta.pop("kind"), meta.pop("recorded")
        meta.pop("rows", None)
        return cls(kind, pl.read_parquet(directory / ROWS_FILE), recorded, meta)


# ---- building at training time ----------------------------------------------------------------------
def text_sample(test: pl.DataFrame, classifier, rows: int = SAMPLE_ROWS, seed: int = 0) -> ValidationSample:
    """Up to `rows` reports of the held-out `test` frame (``text``, ``leaf_id``), redacted, with the
    fitted `classifier`'s scores on them."""
    picked = test.sample(n=min(rows, test.height), seed=seed) if test.height > rows else test
    frame = pl.DataFrame(
        {
            "text": [redact_pii(text or "") for text in picked.get_column("text").to_list()],
            "leaf_id": picked.get_column("leaf_id").to_list(),
        },
        schema={"text": pl.String, "leaf_id": pl.String},
    )
    predicted = [str(leaf) for leaf in classifier.predict(frame.get_column("text").to_list())]
    return ValidationSample("text", frame, text_scores(frame.get_column("leaf_id").to_list(), predicted))


def risk_sample(test: pl.DataFrame, forecaster, rows: int = SAMPLE_ROWS, seed: int = 0) -> ValidationSample:
    """Up to `rows` panel rows of the test window with the fitted `forecaster`'s probabilities."""
    picked = test.sample(n=min(rows, test.height), seed=seed) if test.height > rows else test
    probabilities = forecaster.predict_proba(picked)
    expected = [
        pl.Series(f"{EXPECTED_PREFIX}{group}", np.asarray(values, dtype=float), dtype=pl.Float64)
        for group, values in probabilities.items()
    ]
    return ValidationSample("risk", picked.with_columns(expected), {"rows": float(picked.height)})


def text_scores(labels: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    return {"accuracy_leaf": accuracy(labels, predicted), "macro_f1_leaf": macro_f1(labels, predicted)}


# ---- checking ---------------------------------------------------------------------------------------
def check_text(sample: ValidationSample, predicted: Sequence[str], tolerance: float) -> str:
    """Compare a version's leaves on its sample with what it scored when trained; raise
    :class:`ValidationFailed` below the floor. Returns a one-line summary."""
    if sample.kind != "text":
        raise ValidationFailed(f"a {sample.kind} sample cannot check a text model")
    if len(predicted) != sample.rows.height:
        raise ValidationFailed(f"{len(predicted)} answers for {sample.rows.height} validation reports")
    scores = text_scores(sample.labels, [str(leaf) for leaf in predicted])
    parts, failures = [], []
    for name in TEXT_METRICS:
        floor = float(sample.recorded[name]) - tolerance
        parts.append(f"{name} {scores[name]:.3f} (floor {floor:.3f})")
        if not math.isfinite(scores[name]) or scores[name] < floor:
            failures.append(name)
    summary = f"{', '.join(parts)} on {sample.rows.height} stored validation reports"
    if failures:
        raise ValidationFailed(f"below the floor: {summary}")
    majority = majority_share(sample.labels)
    if majority is not None and scores["accuracy_leaf"] <= majority:
        raise ValidationFailed(
            f"no better than always answering the most frequent label ({majority:.3f}): {summary}"
        )
    return summary


def majority_share(labels: Sequence[str]) -> float | None:
    """The accuracy of always answering the most frequent label; None when there is only one label."""
    counts = Counter(labels)
    return max(counts.values()) / len(labels) if len(counts) > 1 else None


def check_risk(
    sample: ValidationSample,
    probabilities: Mapping[str, Any],
    tolerance: float = DEFAULT_PROBABILITY_TOLERANCE,
) -> str:
    """Probabilities of a risk version on its sample: every group, one finite value in [0, 1] per row,
    within `tolerance` of the recorded ones. Returns a one-line summary."""
    if sample.kind != "risk":
        raise ValidationFailed(f"a {sample.kind} sample cannot check a risk model")
    missing = sorted(set(sample.groups) - set(probabilities))
    if missing:
        raise ValidationFailed(f"no probabilities for {missing}")
    worst = 0.0
    for group in sample.groups:
        values = np.asarray(probabilities[group], dtype=float)
        if values.shape != (sample.rows.height,):
            raise ValidationFailed(f"{group}: shape {values.shape}, expected ({sample.rows.height},)")
        if not np.all(np.isfinite(values)) or values.min() < 0.0 or values.max() > 1.0:
            raise ValidationFailed(f"{group}: probabilities not finite or outside [0, 1]")
        expected = sample.rows.get_column(f"{EXPECTED_PREFIX}{group}").to_numpy()
        worst = max(worst, float(np.max(np.abs(values - expected))))
    summary = (
        f"{len(sample.groups)} groups x {sample.rows.height} stored panel rows, largest difference from "
        f"the recorded probabilities {worst:.2g} (tolerance {tolerance:.2g})"
    )
    if worst > tolerance:
        raise ValidationFailed(f"probabilities differ from the recorded ones: {summary}")
    return summary


# ---- where it is stored -----------------------------------------------------------------------------
def sample_dir(model_dir: Path) -> Path | None:
    """The sample's directory inside an MLflow pyfunc model directory, or None when it has none."""
    try:
        spec = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
        relative = spec["flavors"]["python_function"]["artifacts"][ARTIFACT]["path"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None
    path = model_dir / relative
    return path if (path / META_FILE).is_file() else None


def load_from_model_dir(model_dir: Path) -> ValidationSample | None:
    directory = sample_dir(model_dir)
    return ValidationSample.load(directory) if directory is not None else None
