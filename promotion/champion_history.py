"""The champion history of a registered model: an append-only list of champion changes, kept as a JSON
tag on the registered model (``gridsense.champion_history``).

Each change is one entry ``{"version", "action", "at"}``, appended and never rewritten:

- ``promote`` / ``forced``: the version became champion through the gate, or over it with a reason;
- ``adopted``: a champion set outside promotion (the demo registers its first models as champion) was
  found when the next change was recorded;
- ``rollback``: the version became champion again by `gridsense rollback`;
- ``legacy``: an entry of the older format (a bare version number), whatever made it champion.

The rollback *lineage* is replayed from the entries: a promotion stacks its version on top; a rollback
to a version on the stack drops everything above it (those versions were rolled back from, and a plain
rollback never returns to them). A plain rollback walks this lineage back. Only the last
:data:`MAX_ENTRIES` entries are kept in the tag (a tag holds at most a few thousand characters); every
change is also in the audit log. Writers hold the registry lock (`promotion.registry_ops`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

HISTORY_TAG = "gridsense.champion_history"
MAX_ENTRIES = 40
Action = Literal["promote", "forced", "adopted", "rollback", "legacy"]


@dataclass(frozen=True)
class Entry:
    version: str
    action: Action
    at: str = ""

    @classmethod
    def now(cls, version: str, action: Action) -> Entry:
        return cls(str(version), action, datetime.now(UTC).isoformat(timespec="seconds"))


def read(client: Any, name: str) -> list[Entry]:
    tags = client.get_registered_model(name).tags or {}
    try:
        raw = json.loads(tags.get(HISTORY_TAG, "[]"))
    except ValueError:
        return []
    return [_entry(item) for item in raw if isinstance(item, dict | str | int)]


def append(client: Any, name: str, *entries: Entry) -> list[Entry]:
    """The history with `entries` appended, written back (the oldest dropped beyond MAX_ENTRIES)."""
    history = [*read(client, name), *entries][-MAX_ENTRIES:]
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps([asdict(e) for e in history]))
    return history


def lineage(history: list[Entry]) -> list[str]:
    """The champions a plain rollback can walk back through, oldest first; the last is the current one."""
    stack: list[str] = []
    for entry in history:
        if entry.action == "rollback" and entry.version in stack:
            del stack[_last_index(stack, entry.version) + 1 :]
        else:
            stack.append(entry.version)
    return stack


def former_champions(history: list[Entry]) -> set[str]:
    return {entry.version for entry in history}


def _entry(item: dict | str | int) -> Entry:
    if isinstance(item, dict):
        return Entry(str(item.get("version")), item.get("action", "legacy"), str(item.get("at", "")))
    return Entry(str(item), "legacy")


def _last_index(items: list[str], value: str) -> int:
    return len(items) - 1 - items[::-1].index(value)
