"""Files that several processes share (key store, audit log, model cache records, forecasts): whole-file
writes that a reader never sees half done, appends that never interleave, and an inter-process lock for
read-modify-write cycles.

- :func:`atomic_write_bytes`: a temporary file in the same directory, fsynced, then `os.replace`d over
  the target (and the directory fsynced), so a reader sees the old or the new content, and a crash
  leaves one of them.
- :func:`locked`: a `filelock` lock file beside the target (`<name>.lock`); every writer of a
  read-modify-write file holds it from the read to the replace. Readers need no lock.
- :func:`append_line`: one line appended under the lock, after a newline if an earlier writer died
  mid-line, so one torn record never corrupts the next (the line may be built under the lock).

Directories are created with the default mode; callers that keep private files create theirs first.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

LOCK_TIMEOUT_SECONDS = 30.0


def lock_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.lock")


def locked(path: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> FileLock:
    """The lock guarding `path` (a context manager; re-entrant within a thread)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(lock_path(path), timeout=timeout, mode=0o600)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` in one step (see the module docstring)."""
    atomic_write_with(path, lambda temporary: temporary.write_bytes(data), mode)


def atomic_write_with(path: Path, writer: Callable[[Path], object], mode: int = 0o600) -> None:
    """Replace `path` with the file `writer(temporary_path)` writes (for writers that take a path, such
    as `polars.DataFrame.write_parquet`), in one step. The temporary file is created with `mode`
    before anything is written to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(descriptor, mode)
    os.close(descriptor)
    try:
        writer(Path(temporary))
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def append_line(path: Path, line: str | Callable[[], str], mode: int = 0o600) -> None:
    """Append `line` (a newline is added) under the file's lock, fsynced. A callable `line` is called
    under the lock, so a line that depends on the file's last record (a hash chain) is built from
    the record it will follow."""
    with locked(path):
        text = line() if callable(line) else line
        data = (text.rstrip("\n") + "\n").encode("utf-8")
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, mode)
        try:
            size = os.fstat(descriptor).st_size
            if size and os.pread(descriptor, 1, size - 1) != b"\n":
                data = b"\n" + data  # an earlier writer died mid-line: end its line first
            _write_all(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]
