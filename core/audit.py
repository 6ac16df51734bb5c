"""The audit log of admin actions (reloads, promotions, rollbacks, key changes): one JSON object per line.

Serving and the CLI both append to it. Each record is one line appended and fsynced under the file's
inter-process lock (`core.atomic_files.append_line`), so lines from several processes never
interleave, and a line torn by a crash is ended before the next one (and skipped when read). PII is
redacted from every value.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.atomic_files import append_line
from core.pii import redact_pii_value

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
            **redact_pii_value(details),
        }
        line = json.dumps(entry, ensure_ascii=False, default=str)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            append_line(self.path, line, mode=0o600)
        except OSError:  # auditing must not take the service down; the log line below still records it
            logger.exception("cannot write the audit log %s", self.path)
        logger.info("audit: %s by %s: %s", action, actor, outcome, extra={"audit": entry})
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every whole record; a line torn by a crash is skipped (and logged)."""
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except ValueError:
                logger.warning("audit log %s: line %d is not a whole record; skipped", self.path, number)
        return entries


def cli_actor() -> str:
    """Who runs a CLI command: the OS user (admin actions from the CLI have no API key)."""
    try:
        return f"user:{getpass.getuser()}"
    except Exception:  # no user database entry (containers)
        return f"uid:{os.getuid()}"
