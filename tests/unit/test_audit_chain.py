"""The audit log is hash-chained (issue 14): editing, removing or reordering a record of a copy of the
log is caught by `gridsense audit verify`, which names the record; old unchained logs are said to be so."""

from __future__ import annotations

import json
import threading

import pytest
from typer.testing import CliRunner

from cli.app import app
from core.audit import GENESIS_HASH, AuditLog, verify_chain


@pytest.fixture
def log(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    for number in range(1, 7):
        audit.record("key.create", "user:test", key_id=f"k{number}")
    return audit


def lines(audit: AuditLog) -> list[str]:
    return audit.path.read_text(encoding="utf-8").splitlines()


def write(audit: AuditLog, new_lines: list[str]) -> None:
    audit.path.write_text("\n".join(new_lines) + "\n", encoding="utf-8")


def verify(path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", "--path", str(path)], terminal_width=400)
    return result.exit_code, " ".join(result.output.split())


def test_records_form_a_chain_from_the_genesis_hash(log):
    entries = log.read()
    assert [entry["seq"] for entry in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0]["prev_hash"] == GENESIS_HASH
    assert all(
        later["prev_hash"] == earlier["hash"]
        for earlier, later in zip(entries[:-1], entries[1:], strict=True)
    )
    code, output = verify(log.path)
    assert code == 0 and "6 chained records" in output and entries[-1]["hash"] in output


def test_an_edited_record_is_named(log):
    edited = lines(log)
    edited[2] = edited[2].replace('"k3"', '"k9"')
    write(log, edited)

    code, output = verify(log.path)
    assert code == 1
    assert "line 3 (seq 3" in output and "was edited" in output


def test_an_edited_record_with_a_recomputed_hash_is_named_by_its_successor(log):
    from core.audit import record_hash

    entries = [json.loads(line) for line in lines(log)]
    entries[2]["outcome"] = "refused"
    entries[2]["hash"] = record_hash(entries[2])
    write(log, [json.dumps(entry, ensure_ascii=False) for entry in entries])

    problem = verify_chain(log.path).problem
    assert (problem.kind, problem.line, problem.seq) == ("edited", 3, 3)
    assert verify(log.path)[0] == 1


def test_a_removed_record_is_named(log):
    kept = lines(log)
    del kept[3]
    write(log, kept)

    code, output = verify(log.path)
    assert code == 1
    assert "seq 4 was removed" in output and "line 4 (seq 5" in output


def test_reordered_records_are_named(log):
    swapped = lines(log)
    swapped[1], swapped[4] = swapped[4], swapped[1]
    write(log, swapped)

    code, output = verify(log.path)
    assert code == 1
    assert "line 2 (seq 5" in output and "reordered" in output and "now at line 5" in output


def test_an_inserted_unchained_record_is_named(log):
    grown = lines(log)
    grown.insert(
        2, json.dumps({"ts": "2026-12-03T00:00:00", "action": "promote", "actor": "x", "outcome": "ok"})
    )
    write(log, grown)

    problem = verify_chain(log.path).problem
    assert (problem.kind, problem.line) == ("inserted", 3)


def test_a_torn_line_does_not_break_the_chain(log):
    with open(log.path, "ab") as handle:
        handle.write(b'{"action": "key.rev')  # a writer died mid-line
    log.record("key.revoke", "user:test", key_id="k1")

    report = verify_chain(log.path)
    assert report.ok and report.torn_lines == [7] and report.head_seq == 7


def test_an_old_unchained_log_is_said_to_be_so_and_a_chain_seals_it(tmp_path):
    path = tmp_path / "audit.jsonl"
    old = [{"ts": f"2026-01-0{day}", "action": "key.create", "actor": "a", "outcome": "ok"} for day in (1, 2)]
    path.write_text("".join(json.dumps(entry) + "\n" for entry in old), encoding="utf-8")

    code, output = verify(path)
    assert code == 3 and "2 records written before hash chaining" in output and "audit start-chain" in output

    started = CliRunner().invoke(app, ["audit", "start-chain", "--path", str(path)])
    assert started.exit_code == 0, started.output
    code, output = verify(path)
    assert code == 0 and "2 older unchained records sealed" in output

    tampered = path.read_text(encoding="utf-8").replace("2026-01-01", "2026-01-03")
    path.write_text(tampered, encoding="utf-8")
    assert verify_chain(path).problem.kind == "legacy_edited"
    assert verify(path)[0] == 1


def test_a_missing_log_is_a_one_line_user_error(tmp_path):
    result = CliRunner().invoke(app, ["audit", "verify", "--path", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_concurrent_writers_form_one_chain(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")

    def write_some(worker: int) -> None:
        for number in range(15):
            AuditLog(audit.path).record("reload", f"worker:{worker}", n=number)

    threads = [threading.Thread(target=write_some, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    report = verify_chain(audit.path)
    assert report.ok and report.chained_records == 60


def test_an_anchor_noted_earlier_catches_records_cut_off_the_end(log):
    anchor = log.read()[-1]["hash"]
    log.record("key.revoke", "user:test", key_id="k1")
    args = ["audit", "verify", "--path", str(log.path), "--expect", anchor]
    assert CliRunner().invoke(app, args).exit_code == 0

    write(log, lines(log)[:-2])  # the last two records cut off: the chain itself is still whole
    assert verify(log.path)[0] == 0
    cut = CliRunner().invoke(app, args, terminal_width=300)
    assert cut.exit_code == 1 and "cut off" in cut.output
