"""Per-request metrics and the access log (pure ASGI middleware: no BaseHTTPMiddleware overhead)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.telemetry import UNMATCHED_ROUTE, ServingMetrics

access_logger = logging.getLogger("gridsense.access")


class ObservabilityMiddleware:
    """Records latency and status per route template (`/v1/risk`, never the raw path) and logs one
    line per request. Sits inside the request-id middleware, so the log line carries the id."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app raises before answering, the server error middleware answers 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            self.metrics.observe_request(scope["method"], template, status, seconds)
            principal = scope.get("state", {}).get("principal")
            access_logger.info(
                "%s %s %s %.1fms",
                scope["method"],
                template,
                status,
                seconds * 1000,
                extra={
                    "method": scope["method"],
                    "route": template,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "key_id": principal.key_id if principal else None,
                },
            )
