"""Shared files (issue 10, item 2 siblings): whole-file replaces keep the mode and never leave a temporary
file, appends survive a writer that died mid-line."""

from __future__ import annotations

import os
import stat

import pytest

from core.atomic_files import append_line, atomic_write_bytes, atomic_write_with
from core.audit import AuditLog


def test_a_replace_is_whole_private_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "state.json"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")

    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failing_writer_keeps_the_old_file(tmp_path):
    target = tmp_path / "table.parquet"
    target.write_bytes(b"old")

    def half_write(path):
        path.write_bytes(b"ne")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_with(target, half_write)

    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.parquet"]


def test_an_append_after_a_torn_line_starts_a_new_line(tmp_path):
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b'{"action": "key.create"}\n{"action": "key.rev')  # a writer died mid-line

    append_line(log, '{"action": "promote"}')

    assert log.read_text().splitlines()[-1] == '{"action": "promote"}'


def test_the_audit_log_skips_a_torn_record_and_keeps_the_rest(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.record("key.create", "user:test", key_id="a")
    with open(audit.path, "ab") as handle:
        handle.write(b'{"action": "key.rev')  # torn
    audit.record("key.revoke", "user:test", key_id="a")

    assert [entry["action"] for entry in audit.read()] == ["key.create", "key.revoke"]
    assert stat.S_IMODE(os.stat(audit.path).st_mode) == 0o600
