"""API keys, stored only as salted hashes in a JSON file.

A key looks like ``gs_<key id>_<secret>``. The key id is public (it names the key in listings and the
audit log); the secret is 256 random bits and only its HMAC-SHA256 under a per-key random salt is
stored. A fast hash is enough because the secret is random, not a password: there is nothing to
brute-force. Comparison is constant-time, and an unknown key id costs the same as a wrong secret.

The CLI (`gridsense keys ...`) writes the file; the API reads it and re-reads it when it changes, so
creations and revocations apply without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

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
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise KeyStoreError(f"cannot read key file {path}: {exc}") from exc
    try:
        records = [ApiKeyRecord(**{**entry, "role": Role(entry["role"])}) for entry in raw.get("keys", [])]
    except (TypeError, KeyError, ValueError) as exc:
        raise KeyStoreError(f"key file {path} is malformed: {exc}") from exc
    return {record.key_id: record for record in records}


def write_records(path: Path, records: dict[str, ApiKeyRecord]) -> None:
    """Atomic replace, readable by the owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = {"version": 1, "keys": [_serialisable(record) for record in records.values()]}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=1)
    os.replace(temporary, path)


def _serialisable(record: ApiKeyRecord) -> dict[str, str | None]:
    return {**asdict(record), "role": record.role.value}


class KeyFile:
    """Create, list and revoke keys in one file (used by the CLI)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def create(self, role: Role | str, label: str = "") -> NewKey:
        records = read_records(self.path)
        created = new_key(role, label)
        records[created.record.key_id] = created.record
        write_records(self.path, records)
        return created

    def list(self, include_revoked: bool = False) -> list[ApiKeyRecord]:
        records = sorted(read_records(self.path).values(), key=lambda record: record.created_at)
        return [record for record in records if include_revoked or record.active]

    def revoke(self, key_id: str) -> ApiKeyRecord:
        records = read_records(self.path)
        record = records.get(key_id)
        if record is None:
            raise KeyStoreError(f"no key with id {key_id!r}")
        if record.active:
            records[key_id] = record = replace(record, revoked_at=_now())
            write_records(self.path, records)
        return record

    def revoke_label(self, label: str) -> list[ApiKeyRecord]:
        """Revoke every active key carrying `label` (e.g. the previous demo keys)."""
        records = read_records(self.path)
        revoked = [replace(r, revoked_at=_now()) for r in records.values() if r.active and r.label == label]
        if revoked:
            records.update({record.key_id: record for record in revoked})
            write_records(self.path, records)
        return revoked


class KeyVerifier:
    """Serving side: verifies presented keys against the file, re-reading it when it changes (checked at
    most every `refresh_seconds`). An unreadable file keeps the last good records."""

    def __init__(self, path: Path, refresh_seconds: float = 1.0) -> None:
        self.path = path
        self.refresh_seconds = refresh_seconds
        self._records: dict[str, ApiKeyRecord] = {}
        self._signature: tuple[int, int] | None = None
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
        now = time.monotonic()
        if now - self._checked_at < self.refresh_seconds:
            return
        with self._lock:
            if now - self._checked_at < self.refresh_seconds:
                return
            self._checked_at = now
            signature = _file_signature(self.path)
            if signature == self._signature:
                return
            try:
                self._records = read_records(self.path)
                self.error = None
            except KeyStoreError as exc:
                self.error = str(exc)
                return
            self._signature = signature


def _file_signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
