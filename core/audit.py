"""The audit log of admin actions (reloads, promotions, rollbacks, key changes): one JSON object per line,
hash-chained so that nobody can quietly rewrite it.

Serving and the CLI both append to it. Each record is one line appended and fsynced under the file's
inter-process lock (`core.atomic_files.append_line`), so lines from several processes never
interleave, and a line torn by a crash is ended before the next one (and skipped when read). PII is
redacted from every value.

**Hash chain.** Every record carries `seq` (1, 2, ...), `prev_hash` (the `hash` of the record before it;
:data:`GENESIS_HASH` for the first) and `hash`, the sha256 of its own canonical JSON (keys sorted, no
spaces, UTF-8, the `hash` field left out). The next record's `prev_hash` is read from the file under the
same lock that guards the append, so concurrent writers still form one chain. :func:`verify_chain`
walks the chain and names the first record that was edited (its content no longer matches its hash, or
its successor carries another hash for it), removed (a gap in `seq`) or reordered (a `seq` out of place).

Logs written before chaining (records without `hash`) are sealed as one block by the first chained
record: its `prev_hash` is :func:`legacy_digest` of those records, so editing them afterwards breaks the
chain too (the block, not one record, is named). A chain detects edits inside it; cutting records off its
end, or rewriting the whole file with fresh hashes, needs an outside anchor (note the head hash that
`gridsense audit verify` prints somewhere else).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.atomic_files import append_line
from core.pii import redact_pii_value

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = ("seq", "prev_hash", "hash")
CHAIN_START_ACTION = "audit.chain_start"
_TAIL_BLOCK_BYTES = 64 * 1024


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
        # what is hashed is what a reader parses back: values json cannot hold become their str()
        entry = json.loads(json.dumps(entry, ensure_ascii=False, default=str))
        for name in CHAIN_FIELDS:
            entry.pop(name, None)

        def chained_line() -> str:  # called under the file's lock: the last record cannot change meanwhile
            entry.update(_next_link(self.path))
            entry["hash"] = record_hash(entry)
            return json.dumps(entry, ensure_ascii=False)

        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            append_line(self.path, chained_line, mode=0o600)
        except OSError:  # auditing must not take the service down; the log line below still records it
            logger.exception("cannot write the audit log %s", self.path)
        logger.info("audit: %s by %s: %s", action, actor, outcome, extra={"audit": entry})
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every whole record; a line torn by a crash is skipped (and logged)."""
        entries = []
        for number, entry in _numbered_records(self.path):
            if entry is None:
                logger.warning("audit log %s: line %d is not a whole record; skipped", self.path, number)
            else:
                entries.append(entry)
        return entries


def canonical_json(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def record_hash(entry: dict[str, Any]) -> str:
    """The sha256 of a record's canonical JSON without its own `hash` field."""
    return hashlib.sha256(canonical_json({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def legacy_digest(entries: list[dict[str, Any]]) -> str:
    """The hash that seals the unchained records a log held before its first chained record."""
    digest = hashlib.sha256(b"gridsense-audit-legacy\n")
    for entry in entries:
        digest.update(canonical_json(entry) + b"\n")
    return digest.hexdigest()


def is_chained(entry: dict[str, Any]) -> bool:
    return isinstance(entry.get("hash"), str)


def _next_link(path: Path) -> dict[str, Any]:
    """`seq` and `prev_hash` for a record appended after the file's last whole record."""
    last = _last_record(path)
    if last is None:
        return {"seq": 1, "prev_hash": GENESIS_HASH}
    if is_chained(last):
        return {"seq": int(last.get("seq", 0)) + 1, "prev_hash": last["hash"]}
    legacy = [entry for _, entry in _numbered_records(path) if entry is not None]
    return {"seq": 1, "prev_hash": legacy_digest(legacy)}  # the chain starts, sealing the old records


def _last_record(path: Path) -> dict[str, Any] | None:
    """The last whole record of the file, read backwards from its end (None: no record)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with handle:
        position = handle.seek(0, os.SEEK_END)
        tail = b""
        while True:
            start = max(0, position - _TAIL_BLOCK_BYTES)
            handle.seek(start)
            tail = handle.read(position - start) + tail
            position = start
            lines = tail.split(b"\n")
            complete = lines if position == 0 else lines[1:]  # the first piece may be cut
            for line in reversed(complete):
                entry = _parse(line)
                if entry is not None:
                    return entry
            if position == 0:
                return None
            tail = lines[0]


def _parse(line: bytes | str) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _numbered_records(path: Path) -> list[tuple[int, dict[str, Any] | None]]:
    """(line number, record or None for a torn line) for every non-blank line."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    return [(number, _parse(line)) for number, line in enumerate(lines, start=1) if line.strip()]


@dataclass(frozen=True)
class ChainProblem:
    """The first place the chain breaks: the line, the record's `seq` there, and what happened."""

    line: int
    seq: int | None
    kind: str  # edited | removed | reordered | inserted | legacy_edited
    message: str


@dataclass(frozen=True)
class ChainReport:
    path: Path
    chained_records: int
    legacy_records: int  # records written before the chain started (sealed as a block, or unchained)
    torn_lines: list[int] = field(default_factory=list)
    head_hash: str | None = None
    head_seq: int | None = None
    problem: ChainProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.chained_records > 0

    @property
    def unchained(self) -> bool:
        """A log (or an empty file) with no chained record: there is nothing to verify yet."""
        return self.problem is None and self.chained_records == 0


def verify_chain(path: Path) -> ChainReport:
    """Walk the hash chain of the audit log at `path` and report the first record that breaks it."""
    numbered = [(line, entry) for line, entry in _numbered_records(path)]
    torn = [line for line, entry in numbered if entry is None]
    records = [(line, entry) for line, entry in numbered if entry is not None]
    first = next((i for i, (_, entry) in enumerate(records) if is_chained(entry)), len(records))
    legacy = [entry for _, entry in records[:first]]
    chained = records[first:]
    problem = _first_break(chained, legacy_digest(legacy) if legacy else GENESIS_HASH, bool(legacy))
    head = chained[-1][1] if chained and problem is None else None
    return ChainReport(
        path=path,
        chained_records=len(chained),
        legacy_records=len(legacy),
        torn_lines=torn,
        head_hash=head["hash"] if head else None,
        head_seq=head.get("seq") if head else None,
        problem=problem,
    )


def _first_break(
    chained: list[tuple[int, dict[str, Any]]], expected_prev: str, after_legacy: bool
) -> ChainProblem | None:
    expected_seq = 1
    previous_line: int | None = None
    for index, (line, entry) in enumerate(chained):
        seq = entry.get("seq") if isinstance(entry.get("seq"), int) else None
        name = _describe(line, entry)
        if not is_chained(entry):
            return ChainProblem(
                line, seq, "inserted", f"{name} has no hash: inserted or edited after the chain started"
            )
        if record_hash(entry) != entry["hash"]:
            return ChainProblem(
                line, seq, "edited", f"{name} was edited: its content no longer matches its hash"
            )
        if seq != expected_seq:
            return _out_of_place(chained[index + 1 :], line, seq, expected_seq, name)
        if entry.get("prev_hash") != expected_prev:
            if previous_line is not None:
                return ChainProblem(
                    previous_line,
                    expected_seq - 1,
                    "edited",
                    f"record seq {expected_seq - 1} (line {previous_line}) was edited and re-hashed: "
                    f"seq {expected_seq} (line {line}) carries another hash for it",
                )
            if after_legacy:
                return ChainProblem(
                    line,
                    seq,
                    "legacy_edited",
                    f"the unchained records before line {line} were edited, removed or reordered after "
                    f"the chain sealed them",
                )
            return ChainProblem(
                line,
                seq,
                "removed",
                f"records before {name} were removed (it does not follow the genesis hash)",
            )
        expected_prev, expected_seq, previous_line = entry["hash"], expected_seq + 1, line
    return None


def _out_of_place(
    rest: list[tuple[int, dict[str, Any]]], line: int, seq: int | None, expected: int, name: str
) -> ChainProblem:
    later = next((other for other, entry in rest if entry.get("seq") == expected), None)
    if later is not None:
        return ChainProblem(
            line,
            seq,
            "reordered",
            f"{name} stands where seq {expected} belongs (now at line {later}): records were reordered",
        )
    if seq is not None and seq > expected:
        missing = f"seq {expected}" if seq == expected + 1 else f"seq {expected} to {seq - 1}"
        return ChainProblem(
            line, expected, "removed", f"record {missing} was removed (it stood before {name})"
        )
    return ChainProblem(line, seq, "reordered", f"{name} is out of order: seq {expected} was expected there")


def _describe(line: int, entry: dict[str, Any]) -> str:
    return f"line {line} (seq {entry.get('seq')}, {entry.get('action')} at {entry.get('ts')})"


def find_hash(path: Path, record_hash_: str) -> tuple[int, int | None] | None:
    """(line, seq) of the chained record whose hash is `record_hash_` (an anchor noted earlier), else None."""
    for line, entry in _numbered_records(path):
        if entry is not None and entry.get("hash") == record_hash_:
            return line, entry.get("seq")
    return None


def cli_actor() -> str:
    """Who runs a CLI command: the OS user (admin actions from the CLI have no API key)."""
    try:
        return f"user:{getpass.getuser()}"
    except Exception:  # no user database entry (containers)
        return f"uid:{os.getuid()}"
