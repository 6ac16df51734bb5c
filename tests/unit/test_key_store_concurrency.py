"""The key store under concurrent writers (issue 10, item 2): many processes creating and revoking at
once lose nothing, the audit log keeps one whole line per change, and a revoked key is refused by a
verifier once its refresh interval has passed."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading

import pytest

from core.audit import AuditLog
from core.key_admin import KeyManager
from core.keys import KeyFile, KeyVerifier, Role, read_records, verify
from core.settings import Settings

pytestmark = pytest.mark.slow  # loads models or MLflow: `make test-fast` skips it

PROCESSES = 8
CREATES_PER_PROCESS = 5
REVOKES_PER_PROCESS = 2


def _writer(home: str, revoke_ids: list[str], barrier, results) -> None:
    """One CLI-like process: creates keys and revokes its share of the existing ones, all at once with
    the others (the barrier releases them together)."""
    manager = KeyManager(Settings(home=home), actor="user:test")
    barrier.wait(timeout=60)
    created = []
    for position in range(CREATES_PER_PROCESS):
        created.append(manager.create(Role.INTAKE, label=f"p{position}").key)
        if position < len(revoke_ids):
            manager.revoke(revoke_ids[position])
    results.put(created)


@pytest.mark.timeout(120)
def test_concurrent_creates_and_revokes_lose_nothing(tmp_path):
    settings = Settings(home=tmp_path)
    existing = [KeyFile(settings.api_keys_path).create(Role.SUPERVISOR) for _ in range(PROCESSES * 2)]
    to_revoke = [created.record.key_id for created in existing]
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [
        context.Process(
            target=_writer,
            args=(
                str(tmp_path),
                to_revoke[i * REVOKES_PER_PROCESS : (i + 1) * REVOKES_PER_PROCESS],
                barrier,
                results,
            ),
        )
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    created = [key for _ in processes for key in results.get(timeout=90)]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    records = read_records(settings.api_keys_path)
    assert len(created) == PROCESSES * CREATES_PER_PROCESS
    assert all(verify(key, records) is not None for key in created)  # every created key is there
    assert all(not records[key_id].active for key_id in to_revoke)  # every revocation landed
    assert len(records) == len(existing) + len(created)
    audit = AuditLog(settings.audit_log_path).read()  # every line whole and parseable
    assert sum(entry["action"] == "key.create" for entry in audit) == len(created)
    assert sum(entry["action"] == "key.revoke" for entry in audit) == len(to_revoke)


def test_a_revoked_key_is_refused_once_the_refresh_interval_has_passed(tmp_path):
    key_file = KeyFile(tmp_path / "api_keys.json")
    created = key_file.create(Role.INTAKE)
    now = [0.0]
    verifier = KeyVerifier(key_file.path, refresh_seconds=1.0, clock=lambda: now[0])
    assert verifier.verify(created.key) is not None

    key_file.revoke(created.record.key_id)
    now[0] += 0.5
    assert verifier.verify(created.key) is not None  # within the interval: the records are not re-read
    now[0] += 0.5

    assert verifier.verify(created.key) is None  # refresh_seconds after the revocation: refused


def test_a_change_that_keeps_size_and_timestamp_is_still_seen(tmp_path):
    """The verifier compares content: a rewrite with the same size within one timestamp tick (the old
    check compared size and mtime) is not missed."""
    key_file = KeyFile(tmp_path / "api_keys.json")
    created = key_file.create(Role.INTAKE)
    verifier = KeyVerifier(key_file.path, refresh_seconds=0)
    assert verifier.verify(created.key) is not None
    stat = key_file.path.stat()
    raw = json.loads(key_file.path.read_text(encoding="utf-8"))
    raw["keys"][0]["hash"] = "0" * 64  # the key is replaced: same length, same file size
    key_file.path.write_text(json.dumps(raw, ensure_ascii=False, indent=1), encoding="utf-8")
    os.utime(key_file.path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert key_file.path.stat().st_size == stat.st_size

    assert verifier.verify(created.key) is None


def test_the_verifier_never_sees_a_half_written_file(tmp_path):
    key_file = KeyFile(tmp_path / "api_keys.json")
    first = key_file.create(Role.INTAKE)
    verifier = KeyVerifier(key_file.path, refresh_seconds=0)
    stop = threading.Event()
    errors: list[str] = []

    def read_all_the_time() -> None:
        while not stop.is_set():
            verifier.verify(first.key)
            if verifier.error:
                errors.append(verifier.error)

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    try:
        for _ in range(40):
            key_file.create(Role.INTAKE, label="x" * 2000)  # a large record: writes take several syscalls
    finally:
        stop.set()
        reader.join()

    assert errors == []
    assert verifier.verify(first.key) is not None
