"""Labelled report pairs: reading them, scoring them, and choosing the duplicate thresholds on them.

A pairs file is CSV with `id_a,title_a,text_a,id_b,title_b,text_b[,label]` (label 1 = the same problem
at the same place, a repeat report even months later; 0 = anything else). The pairs carry no time or
grid, so the decision comes from the texts, the places named in them included.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from core.errors import DataFileError
from features.files import read_csv_text
from models.duplicates import (
    DuplicateParams,
    DuplicateScorer,
    Embedder,
    PreparedReport,
    choose_threshold,
    decide,
    features_of,
    pair_metrics,
    prepare,
)

PAIR_COLUMNS: tuple[str, ...] = ("id_a", "title_a", "text_a", "id_b", "title_b", "text_b")
LABEL_COLUMN = "label"
LABEL_SPELLINGS = {"1.0": "1", "0.0": "0", "true": "1", "false": "0"}
RELATED_RECALL = 0.98  # `related` catches this share of the labelled duplicates (validation pairs)


def read_pairs(path: str | Path, require_labels: bool = False) -> pl.DataFrame:
    """The pairs as strings (empty for missing titles and texts) and, when present, integer labels."""
    frame = read_csv_text(path, "pairs file")  # any encoding (GBK exports too), .csv.gz
    frame = frame.rename({name: name.strip().lstrip("\ufeff").strip().lower() for name in frame.columns})
    missing = [column for column in PAIR_COLUMNS if column not in frame.columns]
    if missing:
        raise DataFileError(
            f"pairs file {path} lacks column(s) {', '.join(missing)}",
            f"columns: {','.join(PAIR_COLUMNS)}[,{LABEL_COLUMN}]",
        )
    if require_labels and LABEL_COLUMN not in frame.columns:
        raise DataFileError(f"pairs file {path} has no {LABEL_COLUMN} column", "labels 1/0 are needed here")
    frame = frame.with_columns(pl.col(*PAIR_COLUMNS).fill_null(""))
    if LABEL_COLUMN in frame.columns:
        labels = frame.get_column(LABEL_COLUMN).str.strip_chars().str.to_lowercase().replace(LABEL_SPELLINGS)
        bad = frame.filter(~labels.is_in(["0", "1"]) & labels.is_not_null() & (labels != ""))
        if bad.height:
            raise DataFileError(
                f"pairs file {path}: {bad.height} label(s) other than 0/1 (first: {bad[LABEL_COLUMN][0]!r})",
                "label 1 = same problem at the same place, 0 = anything else",
            )
        frame = frame.with_columns(
            pl.when(labels == "").then(None).otherwise(labels).cast(pl.Int8).alias(LABEL_COLUMN)
        )
    return frame


def prepared_pairs(frame: pl.DataFrame) -> list[tuple[PreparedReport, PreparedReport]]:
    return [
        (prepare(row["title_a"], row["text_a"]), prepare(row["title_b"], row["text_b"]))
        for row in frame.select(PAIR_COLUMNS).iter_rows(named=True)
    ]


def fingerprint(path: Path, frame: pl.DataFrame) -> dict[str, str | int]:
    """What the thresholds were chosen on: the file's hash and counts (no text)."""
    labels = frame.get_column(LABEL_COLUMN) if LABEL_COLUMN in frame.columns else pl.Series([], dtype=pl.Int8)
    return {
        "pairs_sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16],
        "pairs": frame.height,
        "positives": int((labels == 1).sum()),
        "negatives": int((labels == 0).sum()),
    }


def benchmark(
    frame: pl.DataFrame, params: DuplicateParams, embedder: Embedder | None = None
) -> dict[str, Any]:
    """Every pair's score and decision at the recorded thresholds, and precision/recall/F1 of
    `same_issue` (score at or above the duplicate threshold) where the pairs are labelled."""
    pairs = prepared_pairs(frame)
    X = features_of(pairs, embedder if params.use_embeddings else None)
    scores = DuplicateScorer.from_params(params).score(X) if len(pairs) else np.zeros(0)
    rows = []
    has_labels = LABEL_COLUMN in frame.columns
    for row, score in zip(frame.iter_rows(named=True), scores, strict=True):
        entry: dict[str, Any] = {
            "id_a": row["id_a"],
            "id_b": row["id_b"],
            "score": round(float(score), 6),
            "same_issue": bool(score >= params.duplicate_threshold),
            "decision": decide(float(score), params),
        }
        if has_labels and row[LABEL_COLUMN] is not None:
            entry["label"] = int(row[LABEL_COLUMN])
        rows.append(entry)
    report: dict[str, Any] = {
        "pairs_count": len(rows),
        "threshold": params.duplicate_threshold,
        "related_threshold": params.related_threshold,
        "params": {"fitted_on": params.fitted_on, "mlflow_run_id": params.mlflow_run_id},
    }
    labelled = [r for r in rows if "label" in r]
    if labelled:
        report["metrics"] = pair_metrics(
            np.array([r["same_issue"] for r in labelled]), np.array([r["label"] for r in labelled])
        )
        report["labelled_pairs"] = len(labelled)
    report["pairs"] = rows
    return report


def cross_validated_scores(
    X: np.ndarray,
    y: np.ndarray,
    use_embeddings: bool,
    folds: int = 5,
    repeats: int = 5,
    C: float = 1.0,
    context: bool = False,
) -> np.ndarray:
    """Out-of-fold scores, averaged over `repeats` shuffles of stratified `folds`-fold splits."""
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(len(y))
    for seed in range(repeats):
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
            scorer = DuplicateScorer(use_embeddings, C, context).fit(X[train], y[train])
            scores[test] += scorer.score(X[test]) / repeats
    return scores


def fit_params(
    X: np.ndarray,
    y: Sequence[int],
    use_embeddings: bool = False,
    min_precision: float = 0.95,
    fitted_on: dict | None = None,
    context: bool = False,
    repeats: int = 5,
) -> DuplicateParams:
    """Fit the scorer on all pairs; choose the thresholds on its cross-validated scores: `duplicate` at
    the lowest score with precision >= `min_precision`, `related` where RELATED_RECALL of the
    duplicates score above it."""
    y = np.asarray(y, dtype=int)
    if len(set(y.tolist())) < 2:
        raise DataFileError("the labelled pairs need both labels (1 and 0)", "label more pairs")
    oof = cross_validated_scores(X, y, use_embeddings, repeats=repeats, context=context)
    threshold, metrics = choose_threshold(oof, y, min_precision)
    positives = np.sort(oof[y == 1])
    related = float(min(threshold, positives[int((1 - RELATED_RECALL) * len(positives))]))
    scorer = DuplicateScorer(use_embeddings, context=context).fit(X, y)
    return DuplicateParams(
        coef={name: round(value, 6) for name, value in scorer.coef_.items()},
        intercept=round(scorer.intercept_, 6),
        duplicate_threshold=round(threshold, 6),
        related_threshold=round(related, 6),
        use_embeddings=use_embeddings,
        context=context,
        fitted_on=dict(fitted_on or {}),
        metrics={f"cv_{key}": round(float(value), 4) for key, value in metrics.items()},
    )
