"""Rollback (issue 10, item 3): only to an earlier champion that passes the version checks now; the
history is append-only; a plain rollback never lands on a version that fails; promote and rollback run
under the registry lock, so concurrent changes lose no history entry. Registry logic against an
in-memory fake of the MLflow client; the real checks against a real store in test_promotion.py."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from core.atomic_files import locked
from core.audit import AuditLog
from promotion import champion_history
from promotion.champion_history import Entry
from promotion.registry_ops import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS_CHAMPION,
    VALIDATION_TAG,
    Comparison,
    PromotionError,
    PromotionRule,
    promote,
    rollback,
)

NAME = "gridsense-text"
RULE = PromotionRule(primary="macro_f1_leaf")


@dataclass
class FakeClient:
    """The few MlflowClient calls the registry operations make, in memory; `delay` widens races."""

    aliases: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    version_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    delay: float = 0.0

    def get_model_version_by_alias(self, name, alias):
        return SimpleNamespace(version=self.aliases[alias])

    def get_registered_model(self, name):
        time.sleep(self.delay)
        return SimpleNamespace(aliases=dict(self.aliases), tags=dict(self.tags))

    def set_registered_model_alias(self, name, alias, version):
        self.aliases[alias] = str(version)

    def delete_registered_model_alias(self, name, alias):
        self.aliases.pop(alias, None)

    def set_registered_model_tag(self, name, key, value):
        time.sleep(self.delay)
        self.tags[key] = value

    def set_model_version_tag(self, name, version, key, value):
        self.version_tags.setdefault(str(version), {})[key] = value


class Checks:
    """A version check that refuses the versions in `failing` (and records what it was asked)."""

    def __init__(self, *failing: str) -> None:
        self.failing = set(failing)
        self.asked: list[str] = []

    def __call__(self, client, name, version, champion) -> str:
        self.asked.append(version)
        if version in self.failing:
            raise RuntimeError(f"version {version} fails its validation: accuracy_leaf 0.05 (floor 0.90)")
        return f"validation: version {version} passed"


def registry(*promoted: str) -> FakeClient:
    """Versions promoted in this order; the last is champion."""
    client = FakeClient()
    champion_history.append(client, NAME, *(Entry.now(version, "promote") for version in promoted))
    client.aliases[CHAMPION] = promoted[-1]
    return client


def versions(client: FakeClient) -> list[tuple[str, str]]:
    return [(entry.version, entry.action) for entry in champion_history.read(client, NAME)]


@pytest.fixture
def audit(tmp_path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl")


def test_rollback_to_a_version_that_was_never_champion_is_refused(audit):
    client = registry("1", "2")
    checks = Checks()

    with pytest.raises(PromotionError, match="never champion"):
        rollback(client, NAME, audit, "user:test", to_version="7", version_check=checks)

    assert client.aliases[CHAMPION] == "2" and versions(client) == [("1", "promote"), ("2", "promote")]
    assert checks.asked == []  # not even loaded
    assert audit.read()[-1]["outcome"] == "refused"


def test_rollback_to_a_former_champion_that_fails_the_checks_is_refused_and_tagged(audit):
    client = registry("1", "2")

    with pytest.raises(PromotionError, match="accuracy_leaf 0.05"):
        rollback(client, NAME, audit, "user:test", to_version="1", version_check=Checks("1"))

    assert client.aliases[CHAMPION] == "2" and len(versions(client)) == 2
    assert client.version_tags["1"][VALIDATION_TAG].startswith("failed")


def test_a_plain_rollback_skips_failing_versions_and_the_history_only_grows(audit):
    """The issue's sequence: a broken version in the history must not become champion by a plain
    rollback, and a rollback appends, never rewrites."""
    client = registry("1", "2", "3")
    before = versions(client)

    result = rollback(client, NAME, audit, "user:test", version_check=Checks("2"))

    assert (result.champion_before, result.champion) == ("3", "1")
    assert "2" in result.skipped and "accuracy_leaf 0.05" in result.skipped["2"]
    assert client.aliases[CHAMPION] == "1"
    after = versions(client)
    assert after[: len(before)] == before and after[-1] == ("1", "rollback")  # appended, nothing rewritten
    assert PREVIOUS_CHAMPION not in client.aliases  # nothing left below 1
    entry = audit.read()[-1]
    assert entry["action"] == "rollback" and entry["champion"] == "1" and "2" in entry["skipped"]

    client.aliases[CHALLENGER] = "4"
    promote(client, NAME, audit, "user:test", evaluator=_better, rule=RULE, version_check=Checks())
    assert client.aliases[PREVIOUS_CHAMPION] == "1"
    again = rollback(client, NAME, audit, "user:test", version_check=Checks())

    assert again.champion == "1"  # 2 and 3 were rolled back from: a plain rollback never returns to them


def test_no_earlier_champion_passing_the_checks_refuses_and_changes_nothing(audit):
    client = registry("1", "2", "3")

    with pytest.raises(PromotionError, match="no earlier champion passes the checks"):
        rollback(client, NAME, audit, "user:test", version_check=Checks("1", "2"))

    assert client.aliases[CHAMPION] == "3" and len(versions(client)) == 3


def test_a_champion_set_outside_promotion_is_adopted_into_the_history(audit):
    client = registry("1")
    client.aliases[CHAMPION] = "5"  # e.g. a training run registered straight to champion

    rollback(client, NAME, audit, "user:test", version_check=Checks())

    assert versions(client) == [("1", "promote"), ("5", "adopted"), ("1", "rollback")]


def test_the_older_history_format_still_reads():
    client = FakeClient(tags={champion_history.HISTORY_TAG: '["1", "2", "3"]'})

    history = champion_history.read(client, NAME)

    assert [(e.version, e.action) for e in history] == [("1", "legacy"), ("2", "legacy"), ("3", "legacy")]
    assert champion_history.lineage(history) == ["1", "2", "3"]


def test_a_challenger_failing_its_checks_is_refused_even_if_it_wins_the_comparison(audit):
    client = registry("1")
    client.aliases[CHALLENGER] = "2"

    with pytest.raises(PromotionError, match="accuracy_leaf 0.05"):
        promote(client, NAME, audit, "user:test", evaluator=_better, rule=RULE, version_check=Checks("2"))

    assert client.aliases[CHAMPION] == "1"
    assert audit.read()[-1]["outcome"] == "refused"


def test_concurrent_changes_under_the_registry_lock_lose_no_history_entry(tmp_path, audit):
    client = registry("1", "2", "3", "4", "5", "6", "7", "8")
    client.delay = 0.01  # each registry read and write takes a while: the window a lost update needs
    lock_path = tmp_path / "registry"
    errors: list[BaseException] = []

    def roll_back() -> None:
        try:
            rollback(client, NAME, audit, "user:test", version_check=Checks(), lock=locked(lock_path))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=roll_back) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [v for v, action in versions(client) if action == "rollback"] == ["7", "6", "5", "4"]
    assert client.aliases[CHAMPION] == "4"


def _better(client, name, champion, challenger) -> Comparison:
    return Comparison("test set", {"macro_f1_leaf": 0.5}, {"macro_f1_leaf": 0.6})
