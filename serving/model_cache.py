"""A local copy of the models that served well, so the API can start when the registry is unreachable.

Layout: ``<root>/<model name>/<version>/`` (the MLflow model directory as downloaded) and
``<root>/<model name>/last_good.json`` naming the version that last passed its smoke test. Models are
always loaded from this directory, so the cached copy is exactly what was served. The last two good
versions are kept (another worker may still be loading the previous one).

The workers of a server share the directory: `last_good.json` is read, changed and replaced under a
file lock (``last_good.json.lock``), so two workers marking versions at once never lose one, and the
record never names a copy that is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from core.atomic_files import atomic_write_bytes, locked

LAST_GOOD_FILE = "last_good.json"
KEEP_VERSIONS = 2


class ModelCache:
    def __init__(self, root: Path, model_name: str) -> None:
        self.dir = root / model_name

    def path_of(self, version: str) -> Path:
        return self.dir / _safe(version)

    def fetch(self, version: str, download: Callable[[Path], Path | str]) -> Path:
        """The local directory of `version`, downloading it first (via a temporary directory, then an
        atomic rename, so a half-written copy is never used) when it is not there yet."""
        target = self.path_of(version)
        if target.is_dir():
            return target
        self.dir.mkdir(parents=True, exist_ok=True)
        staging = self.dir / f".partial-{uuid.uuid4().hex}"
        try:
            downloaded = Path(download(staging))
            try:
                os.rename(downloaded, target)
            except OSError:  # another worker renamed its copy first
                if not target.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def mark_good(self, version: str) -> None:
        record_path = self.dir / LAST_GOOD_FILE
        with locked(record_path):
            if not self.path_of(version).is_dir():  # another worker pruned it meanwhile: not a local copy
                return
            history = [v for v in self._history() if v != version] + [version]
            record = {"version": version, "history": history[-KEEP_VERSIONS:], "at": _now()}
            atomic_write_bytes(record_path, json.dumps(record).encode("utf-8"), mode=0o644)
            self._prune(keep={_safe(v) for v in record["history"]})

    def last_good(self) -> tuple[str, Path] | None:
        try:
            version = json.loads((self.dir / LAST_GOOD_FILE).read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError):
            return None
        path = self.path_of(str(version))
        return (str(version), path) if path.is_dir() else None

    def _history(self) -> list[str]:
        try:
            return list(json.loads((self.dir / LAST_GOOD_FILE).read_text(encoding="utf-8"))["history"])
        except (OSError, ValueError, KeyError):
            return []

    def _prune(self, keep: set[str]) -> None:
        for child in self.dir.iterdir():
            if child.is_dir() and not child.name.startswith(".") and child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)


def _safe(version: str) -> str:
    return "".join(char if char.isalnum() or char in "-_." else "_" for char in version)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
