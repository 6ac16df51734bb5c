"""Plots of the risk backtest (matplotlib, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from training.plots import _pyplot


def hit_rate_by_week_plot(
    weeks: Sequence[date], series: dict[str, Sequence[float]], path: Path, title: str, share: float = 0.05
) -> Path:
    """Share of each test week's events caught by the top ``share`` of units, one line per scorer."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [str(week) for week in weeks]
    for name, values in series.items():
        mean = sum(v for v in values if v == v) / max(sum(1 for v in values if v == v), 1)
        ax.plot(labels, list(values), marker=".", label=f"{name} (mean {mean:.3f})")
    ax.set_ylabel(f"hit rate @{share:.0%} of units")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="x", rotation=60, labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
