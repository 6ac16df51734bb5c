"""Evaluation plots logged with every training run (matplotlib, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix_plot(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], path: Path
) -> Path:
    """Row-normalised confusion matrix. Axes carry label indices (CJK fonts are not assumed on the machine);
    the caller logs the index -> name map beside the plot."""
    from sklearn.metrics import confusion_matrix

    plt = _pyplot()
    matrix = confusion_matrix(y_true, y_pred, labels=list(labels), normalize="true")
    fig, ax = plt.subplots(figsize=(8, 7))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def reliability_plot(
    confidence: np.ndarray, correct: np.ndarray, path: Path, n_bins: int = 10, title: str = ""
) -> Path:
    """Observed accuracy (or event rate) against predicted probability, with bin counts."""
    plt = _pyplot()
    edges = np.linspace(0, 1, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1]), 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    observed = np.bincount(bins, weights=correct.astype(float), minlength=n_bins) / np.maximum(counts, 1)
    predicted = np.bincount(bins, weights=confidence, minlength=n_bins) / np.maximum(counts, 1)
    used = counts > 0
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.plot(predicted[used], observed[used], "o-", label="model")
    for x, y, n in zip(predicted[used], observed[used], counts[used], strict=True):
        ax.annotate(str(n), (x, y), fontsize=7, xytext=(3, -10), textcoords="offset points")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def coverage_curve_plot(confidence: np.ndarray, correct: np.ndarray, path: Path) -> Path:
    """Accuracy of the reports answered automatically against the share answered, as the threshold moves."""
    plt = _pyplot()
    order = np.argsort(-confidence)
    answered = np.arange(1, len(order) + 1) / len(order)
    accuracy = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(answered, accuracy)
    ax.set_xlabel("coverage (share answered without review)")
    ax.set_ylabel("accuracy of answered reports")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def weekly_top_share_plot(
    weeks: Sequence[str], series: dict[str, Sequence[float]], path: Path, title: str
) -> Path:
    """Share of next-week events in the top grids, per week, for the model and its baselines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, values in series.items():
        ax.plot(list(weeks), list(values), marker=".", label=name)
    ax.set_ylabel("share of events in top 10% grids")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=60, labelsize=7)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
