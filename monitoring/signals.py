"""The drift signals: a window of scored reports against the training reference.

| signal | measure | alarm when |
|---|---|---|
| `category_mix` | PSI of the predicted L1 category shares | PSI > `drift_category_psi` |
| `confidence` | PSI of the leaf probability over the reference's decile bins | PSI > `drift_confidence_psi` |
| `needs_review` | share flagged for review, minus the reference's | > `drift_needs_review_increase` |
| `unseen_ngrams` | mean share of unseen 2-/3-grams, minus reference | > `drift_unseen_ngram_increase` |
| `novel_reports` | share of novel reports (below), minus the reference's | > `drift_novel_report_increase` |
| `text_length` | PSI of the input length over the reference's decile bins | PSI > `drift_length_psi` |
| `correction_rate` | per L1 category, share of reviewed reports corrected | any > `drift_correction_rate` |

PSI (population stability index) = sum over bins of (a - e) ln(a / e), with each share smoothed by half a
report so that an empty bin stays finite. Rules of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 major.
Its sampling noise grows with the number of bins (about (bins - 1) (1/n + 1/m) for n and m reports), which
is why the mix is measured on L1, not on 100+ leaves.

`unseen_ngrams` and `novel_reports` read the same per-report measure two ways. New phrasings used by a
quarter of the reports move the window's mean little (each novel report has 0.2 unseen, the rest about
0.02): the mean crosses 0.03 only once most of a window has drifted. Counting the reports that are novel
(above what 1 in 20 held-out reports reach) turns the same drift into a proportion that leaves its
reference's 5% by 20 points, with a binomial noise of about 0.7 points over 1,000 reports
(docs/BENCHMARKS.md, "Drift monitoring").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from monitoring.scoring import ScoredReports

QUANTILE_BINS = 10
NOVEL_QUANTILE = (
    0.95  # a report is novel when its unseen n-gram share is above this quantile of the reference's
)
MIN_CORRECTION_REPORTS = 20  # a category needs this many reviewed reports before its rate counts
SIGNALS = (
    "category_mix",
    "confidence",
    "needs_review",
    "unseen_ngrams",
    "novel_reports",
    "text_length",
    "correction_rate",
)


THRESHOLD_FIELDS = {  # signal -> its field of DriftThresholds (and `drift_<field>` of core.settings)
    "category_mix": "category_psi",
    "confidence": "confidence_psi",
    "needs_review": "needs_review_increase",
    "unseen_ngrams": "unseen_ngram_increase",
    "novel_reports": "novel_report_increase",
    "text_length": "length_psi",
    "correction_rate": "correction_rate",
}


@dataclass(frozen=True)
class DriftThresholds:
    category_psi: float = 0.2
    confidence_psi: float = 0.2
    needs_review_increase: float = 0.10
    unseen_ngram_increase: float = 0.03
    novel_report_increase: float = 0.05
    length_psi: float = 0.2
    correction_rate: float = 0.2

    @classmethod
    def from_settings(cls, settings: Any) -> DriftThresholds:
        return cls(**{name: getattr(settings, f"drift_{name}") for name in cls.__dataclass_fields__})

    def of(self, signal: str) -> float:
        return getattr(self, THRESHOLD_FIELDS[signal])


@dataclass(frozen=True)
class DriftReference:
    """What the model's traffic looked like on held-out training data (JSON-serialisable)."""

    reports: int
    categories: list[str]
    category_shares: list[float]
    confidence_edges: list[float]
    confidence_shares: list[float]
    length_edges: list[float]
    length_shares: list[float]
    needs_review_rate: float
    unseen_share_mean: float | None
    model_version: str | None = None
    novel_cutoff: float | None = None  # the NOVEL_QUANTILE of the reports' unseen shares (None: older file)
    novel_share: float | None = None  # the share of the reference's reports above it
    source: str | None = None

    @classmethod
    def build(
        cls, scored: ScoredReports, model_version: str | None = None, source: str | None = None
    ) -> DriftReference:
        if len(scored) == 0:
            raise ValueError("a drift reference needs at least one report")
        categories, counts = np.unique(scored.category_l1.astype(str), return_counts=True)
        confidence_edges = quantile_edges(scored.confidence)
        length_edges = quantile_edges(scored.length.astype(float))
        unseen = scored.unseen_share[~np.isnan(scored.unseen_share)]
        cutoff = float(np.quantile(unseen, NOVEL_QUANTILE)) if len(unseen) else None
        return cls(
            reports=len(scored),
            categories=categories.tolist(),
            category_shares=(counts / counts.sum()).tolist(),
            confidence_edges=confidence_edges.tolist(),
            confidence_shares=bin_shares(scored.confidence, confidence_edges).tolist(),
            length_edges=length_edges.tolist(),
            length_shares=bin_shares(scored.length.astype(float), length_edges).tolist(),
            needs_review_rate=float(scored.needs_review.mean()),
            unseen_share_mean=float(unseen.mean()) if len(unseen) else None,
            model_version=model_version,
            source=source,
            novel_cutoff=cutoff,
            novel_share=float((unseen > cutoff).mean()) if cutoff is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReference:
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Signal:
    name: str
    value: float | None  # None: not measurable for this window (no vocabulary, no feedback)
    threshold: float
    reference: float | None = None
    current: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def alarm(self) -> bool:
        return self.value is not None and self.value > self.threshold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"alarm": self.alarm}


def quantile_edges(values: np.ndarray, bins: int = QUANTILE_BINS) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (repeated quantiles merged)."""
    inner = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]) if len(values) else np.zeros(0)
    return np.unique(inner)


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(counts.sum(), 1)


def psi(expected: np.ndarray, actual: np.ndarray, expected_n: int, actual_n: int) -> float:
    """Population stability index of two share vectors over the same bins (shares smoothed by half a
    report, so that an empty bin is finite)."""
    bins = len(expected)
    e = (np.asarray(expected) * expected_n + 0.5) / (expected_n + 0.5 * bins)
    a = (np.asarray(actual) * actual_n + 0.5) / (actual_n + 0.5 * bins)
    return float(np.sum((a - e) * np.log(a / e)))


def compare(reference: DriftReference, window: ScoredReports, thresholds: DriftThresholds) -> list[Signal]:
    """Every signal of one window of reports against the reference."""
    return [
        _category_mix(reference, window, thresholds.category_psi),
        _binned(
            "confidence",
            reference.confidence_edges,
            reference.confidence_shares,
            reference.reports,
            window.confidence,
            thresholds.confidence_psi,
        ),
        _needs_review(reference, window, thresholds.needs_review_increase),
        _unseen(reference, window, thresholds.unseen_ngram_increase),
        _novel(reference, window, thresholds.novel_report_increase),
        _binned(
            "text_length",
            reference.length_edges,
            reference.length_shares,
            reference.reports,
            window.length.astype(float),
            thresholds.length_psi,
        ),
        correction_signal(window, thresholds.correction_rate),
    ]


def _category_mix(reference: DriftReference, window: ScoredReports, threshold: float) -> Signal:
    names, counts = np.unique(window.category_l1.astype(str), return_counts=True)
    categories = sorted(set(reference.categories) | set(names.tolist()))
    expected = dict(zip(reference.categories, reference.category_shares, strict=True))
    actual = dict(zip(names.tolist(), (counts / max(counts.sum(), 1)).tolist(), strict=True))
    e = np.array([expected.get(name, 0.0) for name in categories])
    a = np.array([actual.get(name, 0.0) for name in categories])
    moved = sorted(zip(categories, a - e, strict=True), key=lambda item: -abs(item[1]))[:5]
    return Signal(
        "category_mix",
        psi(e, a, reference.reports, len(window)),
        threshold,
        detail={
            "moved": {name: round(float(change), 4) for name, change in moved},
            "shares": {name: round(float(share), 4) for name, share in zip(categories, a, strict=True)},
        },
    )


def _binned(
    name: str, edges: list[float], shares: list[float], reference_n: int, values: np.ndarray, threshold: float
) -> Signal:
    edges_array = np.asarray(edges, dtype=float)
    values = values[~np.isnan(values)]  # not measured
    if len(values) == 0:
        return Signal(name, None, threshold, detail={"why": "not measured"})
    current = bin_shares(values, edges_array)
    return Signal(
        name,
        psi(np.asarray(shares), current, reference_n, len(values)),
        threshold,
        current=float(np.median(values)) if len(values) else None,
        detail={"bin_shares": [round(float(share), 4) for share in current]},
    )


def _needs_review(reference: DriftReference, window: ScoredReports, threshold: float) -> Signal:
    rate = float(window.needs_review.mean()) if len(window) else 0.0
    return Signal(
        "needs_review",
        rate - reference.needs_review_rate,
        threshold,
        reference=reference.needs_review_rate,
        current=rate,
    )


def _unseen(reference: DriftReference, window: ScoredReports, threshold: float) -> Signal:
    shares = window.unseen_share[~np.isnan(window.unseen_share)]
    if reference.unseen_share_mean is None or len(shares) == 0:
        return Signal("unseen_ngrams", None, threshold, reference=reference.unseen_share_mean)
    current = float(shares.mean())
    return Signal(
        "unseen_ngrams",
        current - reference.unseen_share_mean,
        threshold,
        reference=reference.unseen_share_mean,
        current=current,
    )


def _novel(reference: DriftReference, window: ScoredReports, threshold: float) -> Signal:
    shares = window.unseen_share[~np.isnan(window.unseen_share)]
    if reference.novel_cutoff is None or reference.novel_share is None:
        why = (
            "the reference has no unseen n-gram shares"
            if reference.unseen_share_mean is None
            else ("the reference predates this signal: run gridsense monitor again to rebuild it")
        )
        return Signal("novel_reports", None, threshold, detail={"why": why})
    if len(shares) == 0:
        return Signal("novel_reports", None, threshold, reference=reference.novel_share)
    current = float((shares > reference.novel_cutoff).mean())
    return Signal(
        "novel_reports",
        current - reference.novel_share,
        threshold,
        reference=reference.novel_share,
        current=current,
        detail={
            "cutoff": round(reference.novel_cutoff, 4),
            "novel": int((shares > reference.novel_cutoff).sum()),
        },
    )


def correction_signal(window: ScoredReports, threshold: float) -> Signal:
    """The highest per-category correction rate among categories with enough reviewed reports (the hook
    for dispatchers' feedback: `ScoredReports.corrected`); None without feedback."""
    if window.corrected is None:
        return Signal("correction_rate", None, threshold, detail={"why": "no feedback in this traffic"})
    reviewed = ~np.isnan(window.corrected)
    rates = {}
    for category in np.unique(window.category_l1[reviewed].astype(str)):
        mask = reviewed & (window.category_l1 == category)
        if mask.sum() >= MIN_CORRECTION_REPORTS:
            rates[str(category)] = round(float(window.corrected[mask].mean()), 4)
    if not rates:
        return Signal(
            "correction_rate",
            None,
            threshold,
            detail={"why": f"no category has {MIN_CORRECTION_REPORTS} reviewed reports"},
        )
    worst = max(rates, key=rates.get)
    return Signal(
        "correction_rate",
        rates[worst],
        threshold,
        current=rates[worst],
        detail={"by_category": rates, "worst": worst},
    )
