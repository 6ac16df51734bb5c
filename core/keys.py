"""API keys, stored only as salted hashes in a JSON file.

A key looks like ``gs_<key id>_<secret>``. The key id is public (it names the key in listings and the
audit log); the secret is 256 random bits and only its HMAC-SHA256 under a per-key random salt is
stored. A fast hash is enough because the secret is random, not a password: there is nothing to
brute-force. Comparison is constant-time, and an unknown key id costs the same as a wrong secret.

The CLI (`gridsense keys ...`) writes the file; the API reads it and re-reads it when it changes, so
creations and revocations apply without a restart. Every change is a read-modify-write under an
inter-process file lock (`<file>.lock`), written to a temporary file and `os.replace`d over the store:
concurrent CLI runs never lose each other's changes, and a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from core.atomic_files import atomic_write_bytes, locked

KEY_PREFIX = "gs"
HASH_ALGORITHM = "hmac-sha256"
_DUMMY_SALT = secrets.token_bytes(16)


class Role(StrEnum):
    INTAKE = "intake"
    SUPERVISOR = "supervisor"
    DATA_SCIENTIST = "data_scientist"


@dataclass(frozen=True)
class ApiKeyRecord:
    """What is stored about a key: never the key itself."""

    key_id: str
    role: Role
    salt: str  # hex
    hash: str  # hex HMAC-SHA256(salt, secret)
    created_at: str
    label: str = ""
    revoked_at: str | None = None
    algorithm: str = HASH_ALGORITHM

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, str | None]:
        """The fields safe to show: no salt, no hash."""
        return {
            "key_id": self.key_id,
            "role": self.role.value,
            "label": self.label,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class NewKey:
    record: ApiKeyRecord
    key: str  # shown once, never stored


class KeyStoreError(ValueError):
    """The key file is unreadable, or an operation on it is impossible."""


def hash_secret(secret: str, salt: bytes) -> str:
    return hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """``gs_<id>_<secret>`` -> (id, secret); None when the key does not have that shape."""
    prefix, sep, rest = key.partition("_")
    key_id, sep2, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not sep or not sep2 or not key_id or not secret:
        return None
    return key_id, secret


def new_key(role: Role | str, label: str = "") -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    record = ApiKeyRecord(
        key_id=key_id,
        role=Role(role),
        salt=salt.hex(),
        hash=hash_secret(secret, salt),
        created_at=_now(),
        label=label,
    )
    return NewKey(record=record, key=f"{KEY_PREFIX}_{key_id}_{secret}")


def verify(key: str, records: dict[str, ApiKeyRecord]) -> ApiKeyRecord | None:
    """The active record matching `key`, else None. Always computes one HMAC and one constant-time
    comparison, whether or not the key id exists."""
    parts = split_key(key)
    key_id, secret = parts if parts else ("", key)
    record = records.get(key_id)
    salt = bytes.fromhex(record.salt) if record else _DUMMY_SALT
    expected = record.hash if record else "0" * 64
    matches = hmac.compare_digest(hash_secret(secret, salt), expected)
    return record if matches and record is not None and record.active else None


# ---- the file --------------------------------------------------------------------------------
def read_records(path: Path) -> dict[str, ApiKeyRecord]:
    """All records by key id; a missing file is an empty store."""
    content = _read_or_empty(path)
    return parse_records(content, path) if content else {}


def parse_records(content: bytes, path: Path) -> dict[str, ApiKeyRecord]:
    try:
        raw = json.loads(content.decode("utf-8"))
    except ValueError as exc:
        raise KeyStoreError(f"cannot read key file {path}: {exc}") from exc
    try:
        records = [ApiKeyRecord(**{**entry, "role": Role(entry["role"])}) for entry in raw.get("keys", [])]
    except (TypeError, KeyError, ValueError) as exc:
        raise KeyStoreError(f"key file {path} is malformed: {exc}") from exc
    return {record.key_id: record for record in records}


def write_records(path: Path, records: dict[str, ApiKeyRecord]) -> None:
    """Atomic, durable replace, readable by the owner only. Call it under :meth:`KeyFile.transaction`."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = {"version": 1, "keys": [_serialisable(record) for record in records.values()]}
    atomic_write_bytes(path, json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8"), mode=0o600)


def _serialisable(record: ApiKeyRecord) -> dict[str, str | None]:
    return {**asdict(record), "role": record.role.value}


class KeyFile:
    """Create, list and revoke keys in one file (used by the CLI). Every change holds the file's lock from
    its read to its write, so changes from several processes all land."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def transaction(self) -> Iterator[dict[str, ApiKeyRecord]]:
        """The records, locked against other writers; what the block leaves in the dict is written back
        (only if it changed)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with locked(self.path):
            records = read_records(self.path)
            before = dict(records)
            yield records
            if records != before:
                write_records(self.path, records)

    def create(self, role: Role | str, label: str = "") -> NewKey:
        created = new_key(role, label)
        with self.transaction() as records:
            records[created.record.key_id] = created.record
        return created

    def list(self, include_revoked: bool = False) -> list[ApiKeyRecord]:
        records = sorted(read_records(self.path).values(), key=lambda record: record.created_at)
        return [record for record in records if include_revoked or record.active]

    def revoke(self, key_id: str) -> ApiKeyRecord:
        with self.transaction() as records:
            record = records.get(key_id)
            if record is None:
                raise KeyStoreError(f"no key with id {key_id!r}")
            if record.active:
                records[key_id] = record = replace(record, revoked_at=_now())
        return record

    def revoke_label(self, label: str) -> list[ApiKeyRecord]:
        """Revoke every active key carrying `label` (e.g. the previous demo keys)."""
        with self.transaction() as records:
            revoked = [
                replace(r, revoked_at=_now()) for r in records.values() if r.active and r.label == label
            ]
            records.update({record.key_id: record for record in revoked})
        return revoked


class KeyVerifier:
    """Serving side: verifies presented keys against the file, re-reading it at most every
    `refresh_seconds` (each worker has its own verifier). So a key revoked when `gridsense keys revoke`
    returns is refused by every worker from `refresh_seconds` later at the latest. The file is compared
    by content, not by its modification time (two writes can share a timestamp). An unreadable file
    keeps the last good records. `clock` is injectable for tests."""

    def __init__(
        self, path: Path, refresh_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._records: dict[str, ApiKeyRecord] = {}
        self._content: bytes | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self.error: str | None = None

    def verify(self, key: str) -> ApiKeyRecord | None:
        self._refresh_if_due()
        return verify(key, self._records)

    @property
    def active_keys(self) -> int:
        self._refresh_if_due()
        return sum(record.active for record in self._records.values())

    def _refresh_if_due(self) -> None:
        now = self.clock()
        if now - self._checked_at < self.refresh_seconds:
            return
        with self._lock:
            if now - self._checked_at < self.refresh_seconds:
                return
            self._checked_at = now
            try:
                content = _read_or_empty(self.path)
                if content != self._content:
                    self._records = parse_records(content, self.path) if content else {}
                    self._content = content
                self.error = None
            except KeyStoreError as exc:
                self.error = str(exc)


def _read_or_empty(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise KeyStoreError(f"cannot read key file {path}: {exc}") from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
