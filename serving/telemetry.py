"""Prometheus metrics of the API: requests and latency per route and status, the model versions served,
predictions per class and the needs-review rate, reload outcomes.

Each app has its own registry (tests build many apps). With several uvicorn workers, set
PROMETHEUS_MULTIPROC_DIR (`gridsense serve --workers N` does) and /metrics aggregates all workers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from serving.hot_swap import ReloadEvent
from serving.schemas import ClassifyResult

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "<unmatched>"  # unknown paths share one label: no cardinality explosion


class ServingMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "gridsense_http_requests", "HTTP requests answered.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "gridsense_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_info = Gauge(
            "gridsense_model_info",
            "1 for the model version (or forecasts table) each component serves, 0 for earlier ones.",
            ("component", "version", "source"),
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self.predictions = Counter(
            "gridsense_predictions",
            "Classified reports, per predicted leaf class.",
            ("model_version", "leaf_id", "risk_group"),
            registry=self.registry,
        )
        self.needs_review = Counter(
            "gridsense_predictions_needs_review",
            "Classified reports flagged for human review (divide by gridsense_predictions_total).",
            ("model_version",),
            registry=self.registry,
        )
        self.reloads = Counter(
            "gridsense_model_reloads",
            "Reload attempts by component, trigger and outcome (swapped, unchanged, failed).",
            ("component", "trigger", "outcome"),
            registry=self.registry,
        )
        self._served: dict[str, tuple[str, str]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def observe_predictions(self, model_version: str | None, results: Sequence[ClassifyResult]) -> None:
        version = model_version or "unknown"
        for result in results:
            self.predictions.labels(version, result.leaf_id, result.risk_group).inc()
        flagged = sum(result.needs_review for result in results)
        if flagged:
            self.needs_review.labels(version).inc(flagged)

    def observe_reload(self, event: ReloadEvent) -> None:
        self.reloads.labels(event.component, event.trigger, event.outcome).inc()

    def set_served(self, component: str, version: str | None, source: str | None) -> None:
        previous = self._served.pop(component, None)
        if previous is not None:  # 0, not removed: multi-process mode cannot remove a series
            self.model_info.labels(component, *previous).set(0)
        if version is not None:
            self._served[component] = (version, source or "unknown")
            self.model_info.labels(component, version, source or "unknown").set(1)

    def render(self) -> bytes:
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
