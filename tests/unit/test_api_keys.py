from __future__ import annotations

import hmac
import json
import os
import stat

import pytest

from core.audit import AuditLog
from core.key_admin import DEMO_LABEL, KeyManager
from core.keys import (
    KeyFile,
    KeyStoreError,
    KeyVerifier,
    Role,
    new_key,
    read_records,
    split_key,
    verify,
)
from core.settings import Settings


@pytest.fixture
def key_file(tmp_path) -> KeyFile:
    return KeyFile(tmp_path / ".gridsense" / "api_keys.json")


def test_only_salted_hashes_are_stored(key_file):
    first = key_file.create(Role.INTAKE, label="hotline")
    second = key_file.create(Role.INTAKE, label="hotline")

    stored = key_file.path.read_text(encoding="utf-8")
    for created in (first, second):
        _, secret = split_key(created.key)
        assert secret not in stored and created.key not in stored
    records = json.loads(stored)["keys"]
    assert records[0]["salt"] != records[1]["salt"] and records[0]["hash"] != records[1]["hash"]
    assert stat.S_IMODE(os.stat(key_file.path).st_mode) == 0o600


def test_verification_accepts_the_key_and_nothing_else(key_file):
    created = key_file.create(Role.SUPERVISOR)
    records = read_records(key_file.path)
    key_id, secret = split_key(created.key)

    assert verify(created.key, records).role is Role.SUPERVISOR
    assert verify(f"gs_{key_id}_{secret}x", records) is None
    assert verify(f"gs_{key_id}_{secret[:-1]}", records) is None
    assert verify(f"gs_000000000000_{secret}", records) is None  # right secret, wrong id
    assert verify(secret, records) is None  # not the key's shape
    assert verify("", records) is None


def test_every_check_is_one_constant_time_comparison(key_file, monkeypatch):
    created = key_file.create(Role.INTAKE)
    records = read_records(key_file.path)
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append((len(a), len(b))) or real(a, b))

    for key in (created.key, "gs_ffffffffffff_nope", "garbage"):
        verify(key, records)

    assert calls == [(64, 64)] * 3  # known id, unknown id and malformed key cost the same


def test_revoked_keys_are_refused_and_kept_listed(key_file):
    created = key_file.create(Role.DATA_SCIENTIST)
    key_file.revoke(created.record.key_id)

    assert verify(created.key, read_records(key_file.path)) is None
    assert key_file.list() == []
    assert key_file.list(include_revoked=True)[0].revoked_at is not None
    with pytest.raises(KeyStoreError, match="no key"):
        key_file.revoke("does-not-exist")


def test_the_verifier_follows_the_file_and_survives_a_corrupt_one(key_file):
    verifier = KeyVerifier(key_file.path, refresh_seconds=0)
    assert verifier.verify(new_key(Role.INTAKE).key) is None  # no file yet: no keys
    created = key_file.create(Role.INTAKE)
    assert verifier.verify(created.key) is not None

    key_file.path.write_text("{not json", encoding="utf-8")

    assert verifier.verify(created.key) is not None  # the last good records stay
    assert "cannot read" in verifier.error


def test_demo_keys_replace_the_previous_demo_keys_and_are_audited(tmp_path):
    settings = Settings(home=tmp_path)
    manager = KeyManager(settings, actor="user:test")
    kept = manager.create(Role.INTAKE, label="hotline")
    first = manager.issue_demo_keys()
    second = manager.issue_demo_keys()

    records = read_records(settings.api_keys_path)
    assert set(first) == set(Role) == set(second)
    assert all(verify(key, records) is None for key in first.values())
    assert all(verify(key, records).role is role for role, key in second.items())
    assert verify(kept.key, records) is not None  # other keys are untouched
    actions = [entry["action"] for entry in AuditLog(settings.audit_log_path).read()]
    assert actions.count("key.create") == 7 and actions.count("key.revoke") == 3
    assert all(entry["actor"] == "user:test" for entry in AuditLog(settings.audit_log_path).read())
    assert {r.label for r in records.values() if r.active} == {DEMO_LABEL, "hotline"}
