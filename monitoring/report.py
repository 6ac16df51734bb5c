"""The report a data scientist opens after `gridsense monitor`: Markdown with PNG plots, a JSON summary."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from monitoring.signals import SIGNALS, DriftReference

REPORT_FILE = "drift_report.md"
SUMMARY_FILE = "drift_summary.json"
REFERENCE_FILE = "reference.json"


def write_report(out_dir: Path, summary: dict[str, Any], reference: DriftReference) -> Path:
    """Write the summary JSON, the reference, the plots and the Markdown report; return the report's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    (out_dir / REFERENCE_FILE).write_text(
        json.dumps(reference.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    with warnings.catch_warnings():  # without a CJK font, category names are boxes: no warning per glyph
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        plots = _plots(out_dir, summary, reference)
    path = out_dir / REPORT_FILE
    path.write_text(_markdown(summary, reference, plots), encoding="utf-8")
    return path


def _markdown(summary: dict[str, Any], reference: DriftReference, plots: dict[str, str]) -> str:
    windows = summary["windows"]
    focus = summary["focus_window"]
    alarmed = [w for w in windows if w["alarms"]]
    lines = [
        "# Drift report",
        "",
        f"Model version {summary.get('model_version') or '?'}; reference: {reference.reports:,} reports "
        f"({reference.source or 'given'}); traffic: {summary['reports']:,} reports ({summary['source']}) "
        f"in {len(windows)} windows of {summary['window_size']:,}{_every(summary)}.",
        "",
        (
            f"**ALARM**: {len(alarmed)} of {len(windows)} windows cross a threshold; the first is window "
            f"{alarmed[0]['index']} (reports {alarmed[0]['start']:,}-{alarmed[0]['stop'] - 1:,}"
            f"{_until(alarmed[0])}): {', '.join(alarmed[0]['alarms'])}."
            if alarmed
            else "**No alarm**: no window crosses a threshold."
        ),
        "",
        "## Signals per window",
        "",
        "| window | reports | " + " | ".join(SIGNALS) + " |",
        "|---|---|" + "---|" * len(SIGNALS),
    ]
    for window in windows:
        cells = []
        for name in SIGNALS:
            signal = window["signals"][name]
            value = "n/a" if signal["value"] is None else f"{signal['value']:.3f}"
            cells.append(f"**{value}**" if signal["alarm"] else value)
        dates = f" ({window['from']} to {window['to']})" if "from" in window else ""
        lines.append(
            f"| {window['index']} | {window['start']:,}-{window['stop'] - 1:,}{dates} | "
            + " | ".join(cells)
            + " |"
        )
    thresholds = ", ".join(f"{name} {value}" for name, value in summary["thresholds"].items())
    lines += ["", f"Thresholds: {thresholds} (bold: crossed).", ""]
    for name, file in plots.items():
        lines += [f"![{name}]({file})", ""]
    lines += _focus_section(focus, reference)
    return "\n".join(lines) + "\n"


def _every(summary: dict[str, Any]) -> str:
    step = summary.get("window_step") or summary["window_size"]
    return "" if step == summary["window_size"] else f", one ending every {step:,} reports"


def _until(window: dict[str, Any]) -> str:
    return f", until {window['to']}" if "to" in window else ""


def _focus_section(focus: dict[str, Any], reference: DriftReference) -> list[str]:
    signals = focus["signals"]
    mix = signals["category_mix"]["detail"]
    lines = [
        f"## Window {focus['index']} (reports {focus['start']:,}-{focus['stop'] - 1:,}) in detail",
        "",
        "Categories that moved most (share in the window minus the reference's): "
        + ", ".join(f"{name} {change:+.1%}" for name, change in mix["moved"].items()),
        "",
        f"Needs review: {signals['needs_review']['current']:.1%} "
        f"(reference {reference.needs_review_rate:.1%}).",
    ]
    unseen = signals["unseen_ngrams"]
    if unseen["value"] is not None:
        lines.append(
            f"Unseen 2-/3-grams: {unseen['current']:.1%} of a report's n-grams on average "
            f"(reference {unseen['reference']:.1%})."
        )
    novel = signals.get("novel_reports")
    if novel and novel["value"] is not None:
        lines.append(
            f"Novel reports (more unseen 2-/3-grams than {novel['detail']['cutoff']:.1%}, the reference's "
            f"95th percentile): {novel['current']:.1%} (reference {novel['reference']:.1%})."
        )
    if focus.get("top_unseen_ngrams"):
        lines += [
            "",
            "New n-grams in most reports of this window: "
            + ", ".join(f"`{gram}` ({count})" for gram, count in focus["top_unseen_ngrams"]),
        ]
    correction = signals["correction_rate"]
    if correction["value"] is not None:
        lines.append(f"Correction rate by category: {correction['detail']['by_category']}")
    return [*lines, ""]


def _plots(out_dir: Path, summary: dict[str, Any], reference: DriftReference) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    _chinese_font(plt)
    plots = {}
    windows = summary["windows"]
    figure, axes = plt.subplots(2, 4, figsize=(16, 6.5), sharex=True)
    for axis in axes.flat[len(SIGNALS) :]:
        axis.set_visible(False)
    for axis, name in zip(axes.flat, SIGNALS, strict=False):
        values = [w["signals"][name]["value"] for w in windows]
        x = [w["stop"] for w in windows]
        axis.plot(x, [np.nan if v is None else v for v in values], marker="o", markersize=3)
        threshold = windows[0]["signals"][name]["threshold"]
        axis.axhline(threshold, color="red", linestyle="--", linewidth=1)
        for w, v in zip(windows, values, strict=True):
            if w["signals"][name]["alarm"]:
                axis.plot(w["stop"], v, "o", color="red", markersize=5)
        axis.set_title(name)
        axis.set_xlabel("window's last report")
        if all(v is None for v in values):
            axis.text(
                0.5, 0.5, "not measured\n(no feedback / vocabulary)", ha="center", transform=axis.transAxes
            )
    figure.suptitle("Drift signals per window (dashed: threshold)")
    figure.tight_layout()
    plots["signals over time"] = _save(figure, out_dir / "signals.png", plt)

    focus = summary["focus_window"]["signals"]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    shares = focus["category_mix"]["detail"]["shares"]
    names = sorted(set(reference.categories) | set(shares))
    ref = dict(zip(reference.categories, reference.category_shares, strict=True))
    positions = np.arange(len(names))
    axes[0].barh(positions - 0.2, [ref.get(n, 0) for n in names], height=0.4, label="reference")
    axes[0].barh(positions + 0.2, [shares.get(n, 0) for n in names], height=0.4, label="window")
    axes[0].set_yticks(positions, names, fontsize=7)
    axes[0].set_title("category (L1) mix")
    axes[0].legend()
    for axis, name, shares_ref in (
        (axes[1], "confidence", reference.confidence_shares),
        (axes[2], "text_length", reference.length_shares),
    ):
        bins = np.arange(len(shares_ref))
        axis.bar(bins - 0.2, shares_ref, width=0.4, label="reference")
        window_shares = focus[name]["detail"].get("bin_shares")
        if window_shares is not None:  # None: not measured in this window
            axis.bar(bins + 0.2, window_shares, width=0.4, label="window")
        axis.set_title(f"{name}: share per reference decile bin")
        axis.set_xlabel("bin (reference deciles)")
        axis.legend()
    figure.suptitle(f"Window {summary['focus_window']['index']} against the reference")
    figure.tight_layout()
    plots["focus window against the reference"] = _save(figure, out_dir / "window.png", plt)
    return plots


def _save(figure: Any, path: Path, plt: Any) -> str:
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path.name


def _chinese_font(plt: Any) -> None:
    """Use a CJK font when one is installed (matplotlib's cache may predate it), so category names are
    not boxes."""
    from matplotlib import font_manager

    for path in font_manager.findSystemFonts():
        if any(mark in Path(path).name for mark in ("CJK", "wqy", "SimHei", "SourceHan")):
            try:
                font_manager.fontManager.addfont(path)
                name = font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
            plt.rcParams["font.sans-serif"] = [name, *plt.rcParams["font.sans-serif"]]
            return
