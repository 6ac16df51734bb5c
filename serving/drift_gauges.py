"""Live drift gauges: the `gridsense monitor` signals over the latest classified reports, on /metrics.

The classify route hands each request's texts and results to :meth:`DriftGauges.observe` (one call, on
the request's path). That only appends to a pending list; every `REFRESH_EVERY` reports a background
thread measures the pending batch at once (prepared text, unseen n-gram share against the served model's
vocabulary), adds it to a rolling window of the latest `GRIDSENSE_DRIFT_WINDOW_REPORTS`, compares the
window with the reference `gridsense monitor` saved (`GRIDSENSE_DRIFT_REFERENCE_PATH`, re-read when it
changes) and appends the batch to the drift log (`GRIDSENSE_DRIFT_LOG_PATH`, JSON lines without text).
So a request pays a list append; the batch work runs beside the requests (docs/BENCHMARKS.md, "Drift
monitoring"). A crash loses at most one pending batch of the drift log.

Gauges (per worker; with several workers the most recent live value is shown):
`gridsense_drift_signal{signal}`, `gridsense_drift_threshold{signal}`, `gridsense_drift_alarm{signal}`
(1 while the signal crosses its threshold), `gridsense_drift_window_reports`. A signal that turns on logs
a `drift alert` warning.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, Request
from prometheus_client import CollectorRegistry, Gauge

from core.settings import Settings
from features.text import prepare_texts
from monitoring.scoring import ScoredReports, VocabularyCache, unseen_ngram_share
from monitoring.signals import SIGNALS, DriftReference, DriftThresholds, compare

logger = logging.getLogger(__name__)

REFRESH_EVERY = 256  # a batch of 64 sampled texts: prepare_texts is vectorised from 64 on
TEXT_SAMPLE_EVERY = 4  # length and unseen n-grams of every 4th report: their preparation is the cost
MIN_WINDOW_REPORTS = 100  # fewer reports than this: no signal is set (too noisy)
DRIFT_LOG_MAX_BYTES = 50 * 1024 * 1024
HISTORY_POINTS = 500  # one per refresh: the latest 128,000 reports


class DriftGauges:
    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        self.thresholds = DriftThresholds.from_settings(settings)
        self.reference_path = settings.home / settings.drift_reference_path
        self.log_path = (
            None if str(settings.drift_log_path) in ("", ".") else settings.home / settings.drift_log_path
        )
        self.window: deque[tuple[str, str, float, bool, float, float]] = deque(
            maxlen=settings.drift_window_reports
        )
        self._pending: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._reference: DriftReference | None = None
        self._reference_stamp: float | None = None
        self._vocabulary = VocabularyCache()
        self._alarms: set[str] = set()
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY_POINTS)  # GET /v1/drift, the dashboard
        self.reports_seen = 0
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drift-gauges")
        self._last: Future | None = None
        self.signal = Gauge(
            "gridsense_drift_signal",
            "Drift signal over the latest classified reports against the training reference "
            "(PSI, or an increase over the reference; docs/OPERATIONS.md).",
            ("signal",),
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.threshold = Gauge(
            "gridsense_drift_threshold",
            "The alarm threshold of each drift signal.",
            ("signal",),
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.alarm = Gauge(
            "gridsense_drift_alarm",
            "1 while a drift signal crosses its threshold.",
            ("signal",),
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.window_reports = Gauge(
            "gridsense_drift_window_reports",
            "Classified reports in the live drift window.",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        for name in SIGNALS:
            self.threshold.labels(name).set(self.thresholds.of(name))

    def observe(self, classifier: Any, texts: Sequence[str], results: Sequence[Any]) -> None:
        """Record one request's reports (cheap); measure and refresh the gauges every REFRESH_EVERY."""
        with self._lock:
            self._pending.extend(
                (text, (classifier, result)) for text, result in zip(texts, results, strict=True)
            )
            if len(self._pending) < REFRESH_EVERY:
                return
            pending, self._pending = self._pending, []
            self._last = self._worker.submit(self._refresh_logged, pending)

    def flush(self) -> None:
        """Wait until the batches handed to the background thread are measured (tests, shutdown)."""
        last = self._last
        if last is not None:
            last.result()

    def _refresh_logged(self, pending: list[tuple[str, Any]]) -> None:
        try:
            self._refresh(pending)
        except Exception:  # monitoring must never fail the API
            logger.exception("drift gauges: cannot update")

    def _refresh(self, pending: list[tuple[str, Any]]) -> None:
        classifier = pending[-1][1][0]
        sampled = range(0, len(pending), TEXT_SAMPLE_EVERY)  # the text measures: every k-th report
        prepared = prepare_texts([pending[i][0] for i in sampled])
        unseen = unseen_ngram_share(prepared, self._vocabulary.of(classifier))
        length = np.full(len(pending), np.nan)
        share = np.full(len(pending), np.nan)
        length[sampled], share[sampled] = [len(text) for text in prepared], unseen
        rows = [
            (r.category_l1.name, r.leaf_id, float(r.category_l3.probability), bool(r.needs_review), n, u)
            for (_, (_, r)), n, u in zip(pending, length.tolist(), share.tolist(), strict=True)
        ]
        with self._lock:
            self.window.extend(rows)
            window = list(self.window)
        self._write_log(rows)
        self.window_reports.set(len(window))
        reference = self._current_reference()
        if reference is None or len(window) < MIN_WINDOW_REPORTS:
            return
        signals = compare(reference, _scored(window), self.thresholds)
        with self._lock:
            self.reports_seen += len(rows)
            self.history.append(
                {
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "reports_seen": self.reports_seen,
                    "window_reports": len(window),
                    "signals": {signal.name: signal.value for signal in signals},
                    "alarms": [signal.name for signal in signals if signal.alarm],
                }
            )
        for signal in signals:
            self.signal.labels(signal.name).set(np.nan if signal.value is None else signal.value)
            self.alarm.labels(signal.name).set(1 if signal.alarm else 0)
            if signal.alarm and signal.name not in self._alarms:
                logger.warning(
                    "drift alert: %s = %.3f crosses %.3f over the latest %d reports",
                    signal.name,
                    signal.value,
                    signal.threshold,
                    len(window),
                    extra={"drift_signal": signal.name, "drift_value": signal.value},
                )
            (self._alarms.add if signal.alarm else self._alarms.discard)(signal.name)

    def snapshot(self) -> dict[str, Any]:
        """The reference, the thresholds and the signals' history (this worker's), for GET /v1/drift."""
        reference = self._current_reference()
        with self._lock:
            history = list(self.history)
            window = len(self.window)
        return {
            "reference": None
            if reference is None
            else {
                "model_version": reference.model_version,
                "reports": reference.reports,
                "source": reference.source,
            },
            "thresholds": {name: self.thresholds.of(name) for name in SIGNALS},
            "window_reports": window,
            "history": history,
        }

    def _current_reference(self) -> DriftReference | None:
        try:
            stamp = self.reference_path.stat().st_mtime
        except OSError:
            return None
        if stamp != self._reference_stamp:
            try:
                data = json.loads(self.reference_path.read_text(encoding="utf-8"))
                self._reference = DriftReference.from_dict(data)
            except (OSError, ValueError, TypeError):
                logger.warning(
                    "drift reference %s is unreadable; gauges keep the previous one", self.reference_path
                )
            self._reference_stamp = stamp
        return self._reference

    def _write_log(self, rows: list[tuple[str, str, float, bool, float, float]]) -> None:
        if self.log_path is None:
            return
        lines = "".join(
            json.dumps(
                {
                    "category_l1": c,
                    "leaf_id": leaf,
                    "confidence": round(p, 4),
                    "needs_review": review,
                    "length": None if np.isnan(n) else int(n),
                    "unseen_share": None if np.isnan(u) else round(u, 4),
                },
                ensure_ascii=False,
            )
            + "\n"
            for c, leaf, p, review, n, u in rows
        )
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            if self.log_path.exists() and self.log_path.stat().st_size > DRIFT_LOG_MAX_BYTES:
                os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
            with open(self.log_path, "a", encoding="utf-8") as handle:  # one write per batch (O_APPEND)
                handle.write(lines)
        except OSError:
            logger.exception("drift log %s: cannot append", self.log_path)


def _scored(window: list[tuple[str, str, float, bool, float, float]]) -> ScoredReports:
    l1, leaf, confidence, review, length, unseen = zip(*window, strict=True)
    return ScoredReports(
        category_l1=np.array(l1, dtype=object),
        leaf_id=np.array(leaf, dtype=object),
        confidence=np.array(confidence, dtype=float),
        needs_review=np.array(review, dtype=bool),
        length=np.array(length, dtype=float),
        unseen_share=np.array(unseen, dtype=float),
    )


_CREATE_LOCK = threading.Lock()


async def drift_gauges(request: Request) -> DriftGauges:
    """The app's drift gauges, made on first use (registered with the app's metrics registry). A
    coroutine: FastAPI runs a plain `def` dependency in a thread, a hop on every classify request."""
    state = request.app.state
    gauges = getattr(state, "drift_gauges", None)
    if gauges is None:
        with _CREATE_LOCK:
            gauges = getattr(state, "drift_gauges", None)
            if gauges is None:
                gauges = state.drift_gauges = DriftGauges(state.settings, state.metrics.registry)
    return gauges


DriftDep = Annotated[DriftGauges, Depends(drift_gauges)]
