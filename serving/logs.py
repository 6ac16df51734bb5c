"""Structured logs: one JSON object per line, with the request id, and PII redacted before anything is
written. Nothing here runs at import; `configure_logging` (app start-up) and `uvicorn_log_config`
(`gridsense serve`) install it.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from features.text import redact_pii, redact_pii_value

REQUEST_ID: ContextVar[str | None] = ContextVar("gridsense_request_id", default=None)
_MARK = "_gridsense_handler"
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class RedactingFilter(logging.Filter):
    """Redacts the rendered message (and any exception text) in place, so every handler after it sees
    only redacted text. Attach it to handlers: logger-level filters do not see child loggers' records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_redacted", False):
            record.msg = redact_pii(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact_pii(record.exc_text)
            record._redacted = True
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        RedactingFilter().filter(record)
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and key not in payload and not key.startswith("_"):
                payload[key] = redact_pii_value(value)
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", log_format: str = "json") -> None:
    """Idempotent. Every handler on the root logger gets the redacting filter; when nobody configured
    logging yet, one stderr handler is added (JSON or plain text)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        setattr(handler, _MARK, True)
        handler.setFormatter(_formatter(log_format))
        root.addHandler(handler)
        root.setLevel(level.upper())
    for handler in root.handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())


def _formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


def uvicorn_log_config(level: str = "INFO", log_format: str = "json") -> dict[str, Any]:
    """`logging.config.dictConfig` for uvicorn: its own loggers and the root go through one redacting
    handler. Uvicorn's access log is replaced by the app's (which has the request id and the route)."""
    formatter = (
        {"()": "serving.logs.JsonFormatter"}
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "serving.logs.RedactingFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
