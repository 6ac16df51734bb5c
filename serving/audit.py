"""The audit log of admin actions (reloads, promotions, rollbacks, key changes): one JSON object per line.

Serving and the CLI both append to it. Each record is written with a single `write` on a file opened
in append mode, so lines from several processes do not interleave. PII is redacted from every value.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from features.text import redact_pii

logger = logging.getLogger(__name__)


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, action: str, actor: str, outcome: str = "ok", **details: Any) -> dict[str, Any]:
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "action": action,
            "actor": actor,
            "outcome": outcome,
            **{key: _redacted(value) for key, value in details.items()},
        }
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(descriptor, line.encode("utf-8"))
            finally:
                os.close(descriptor)
        except OSError:  # auditing must not take the service down; the log line below still records it
            logger.exception("cannot write the audit log %s", self.path)
        logger.info("audit: %s by %s: %s", action, actor, outcome, extra={"audit": entry})
        return entry

    def read(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]


def cli_actor() -> str:
    """Who runs a CLI command: the OS user (admin actions from the CLI have no API key)."""
    try:
        return f"user:{getpass.getuser()}"
    except Exception:  # no user database entry (containers)
        return f"uid:{os.getuid()}"


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_pii(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value
