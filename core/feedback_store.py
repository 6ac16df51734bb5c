"""What GridSense answered for each report taken in, and what people said back (the loop of issue 14).

Two append-only tables in the same embedded SQLite file as the recent-report store
(`GRIDSENSE_REPORT_STORE_PATH`; a PostgreSQL deployment implements :class:`FeedbackStore` on two tables
with the same columns, docs/CONTRACTS.md "Feedback store"):

- ``answers``: one row per report `/v1/intake` classified: the model and version that answered, its leaf,
  confidence and margin, and the review-priority signals measured then (novelty: the share of the text's
  character n-grams the model never saw). The review queue reads it.
- ``feedback``: one row per (report id, revision): the dispatcher's confirmed or corrected leaf and
  department, duplicate-of, invalid flag, case times, who sent it and when, the model version that had
  answered, and a redacted copy of the report's text (so a correction outlives the report store's
  retention and can train the next model). Rows are never updated or deleted. Sending the same revision
  again is idempotent; the same revision with other content is a conflict.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Literal, Protocol

from core.report_store import SqliteReportStore, StoreUnavailableError, as_utc

RECORDED = "recorded"
ALREADY_RECORDED = "already_recorded"
RecordOutcome = Literal["recorded", "already_recorded"]


@dataclass(frozen=True)
class Answer:
    """What the model said about one report when it was taken in."""

    report_id: str
    answered_at: datetime
    model_name: str
    model_version: str
    leaf_id: str
    confidence: float
    margin: float  # top probability minus the runner-up's
    needs_review: bool
    novelty: float | None = None  # share of unseen character 2-/3-grams; None: not measured
    second_leaf_id: str | None = None  # another model's leaf (a cascade's fast model) when it disagreed


@dataclass(frozen=True)
class Feedback:
    """One revision of a person's feedback on a report. `leaf_id` None: the category was not reviewed."""

    report_id: str
    revision: int
    actor: str  # the API key id
    role: str
    received_at: datetime
    reported_at: datetime
    text: str  # redacted copy of the report as stored
    title: str | None = None
    leaf_id: str | None = None
    department: str | None = None
    duplicate_of: str | None = None
    invalid: bool | None = None
    invalid_reason: str | None = None
    accepted_at: datetime | None = None
    dispatched_at: datetime | None = None
    closed_at: datetime | None = None
    answered_leaf_id: str | None = None
    model_name: str | None = None
    model_version: str | None = None

    def same_content(self, other: Feedback) -> bool:
        """Equal but for who sent it and when (a retried request)."""
        skip = {"actor", "role", "received_at"}
        return all(
            getattr(self, f.name) == getattr(other, f.name) for f in fields(self) if f.name not in skip
        )


class FeedbackConflictError(ValueError):
    """This (report id, revision) was recorded before with other content."""


class FeedbackStore(Protocol):
    def add_answers(self, answers: Sequence[Answer]) -> int: ...

    def answers(self, report_ids: Sequence[str]) -> dict[str, Answer]: ...

    def record(self, feedback: Feedback) -> RecordOutcome:
        """Append one revision (atomically); raise FeedbackConflictError for a changed revision."""
        ...

    def feedback(self, since: datetime | None = None) -> list[Feedback]:
        """Every revision, oldest first."""
        ...

    def unreviewed(self, since: datetime, limit: int) -> list[Answer]:
        """Answers since `since` whose report has no feedback yet, newest first, at most `limit`."""
        ...

    def answered_reports(self) -> list[tuple]:
        """Every stored report intake answered, oldest first, with the answer's leaf and version."""
        ...


FEEDBACK_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    report_id TEXT PRIMARY KEY,
    answered_at REAL NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    leaf_id TEXT NOT NULL,
    confidence REAL NOT NULL,
    margin REAL NOT NULL,
    needs_review INTEGER NOT NULL,
    novelty REAL,
    second_leaf_id TEXT
);
CREATE INDEX IF NOT EXISTS answers_time ON answers (answered_at);
CREATE TABLE IF NOT EXISTS feedback (
    report_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    received_at REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (report_id, revision)
);
CREATE INDEX IF NOT EXISTS feedback_time ON feedback (received_at);
"""
ANSWER_COLUMNS = tuple(f.name for f in fields(Answer))
_TIMES = ("received_at", "reported_at", "accepted_at", "dispatched_at", "closed_at")


class SqliteFeedbackStore(SqliteReportStore):
    """The embedded default: the report store's SQLite file, two more tables."""

    def _open(self) -> sqlite3.Connection:
        conn = super()._open()
        conn.executescript(FEEDBACK_SCHEMA)
        return conn

    def add_answers(self, answers: Sequence[Answer]) -> int:
        if not answers:
            return 0
        rows = [_answer_row(answer) for answer in answers]
        marks = ",".join("?" * len(ANSWER_COLUMNS))
        query = f"INSERT OR REPLACE INTO answers ({', '.join(ANSWER_COLUMNS)}) VALUES ({marks})"
        return self._run(lambda conn: conn.executemany(query, rows).rowcount)

    def answers(self, report_ids: Sequence[str]) -> dict[str, Answer]:
        if not report_ids:
            return {}
        marks = ",".join("?" * len(report_ids))
        query = f"SELECT {', '.join(ANSWER_COLUMNS)} FROM answers WHERE report_id IN ({marks})"
        rows = self._run(lambda conn: conn.execute(query, list(report_ids)).fetchall())
        return {row[0]: _answer(row) for row in rows}

    def record(self, feedback: Feedback) -> RecordOutcome:
        body = _feedback_json(feedback)

        def write(conn: sqlite3.Connection) -> RecordOutcome:
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute(
                    "SELECT body FROM feedback WHERE report_id = ? AND revision = ?",
                    (feedback.report_id, feedback.revision),
                ).fetchone()
                if found is None:
                    conn.execute(
                        "INSERT INTO feedback VALUES (?,?,?,?)",
                        (
                            feedback.report_id,
                            feedback.revision,
                            as_utc(feedback.received_at).timestamp(),
                            body,
                        ),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if found is None:
                return RECORDED
            if _feedback_from_json(found[0]).same_content(feedback):
                return ALREADY_RECORDED
            raise FeedbackConflictError(
                f"report {feedback.report_id} revision {feedback.revision} was recorded with other content; "
                "send the change as the next revision"
            )

        return self._run(write)

    def feedback(self, since: datetime | None = None) -> list[Feedback]:
        cutoff = as_utc(since).timestamp() if since is not None else float("-inf")
        query = "SELECT body FROM feedback WHERE received_at >= ? ORDER BY received_at, report_id, revision"
        rows = self._run(lambda conn: conn.execute(query, (cutoff,)).fetchall())
        return [_feedback_from_json(row[0]) for row in rows]

    def unreviewed(self, since: datetime, limit: int) -> list[Answer]:
        query = (
            f"SELECT {', '.join('a.' + c for c in ANSWER_COLUMNS)} FROM answers a "
            "WHERE a.answered_at >= ? "
            "AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.report_id = a.report_id) "
            "ORDER BY a.answered_at DESC LIMIT ?"
        )
        rows = self._run(lambda conn: conn.execute(query, (as_utc(since).timestamp(), int(limit))).fetchall())
        return [_answer(row) for row in rows]

    def answered_reports(self) -> list[tuple]:
        """(id, reported_at, title, text, answered leaf, model version) of every stored report intake
        answered, oldest first: the traffic `gridsense export-feedback` hands to `gridsense monitor`."""
        query = (
            "SELECT r.id, r.reported_at, r.title, r.text, a.leaf_id, a.model_version FROM reports r "
            "JOIN answers a ON a.report_id = r.id ORDER BY r.reported_at, r.id"
        )
        rows = self._run(lambda conn: conn.execute(query).fetchall())
        return [(i, datetime.fromtimestamp(at, tz=UTC), *rest) for i, at, *rest in rows]


def latest_revisions(feedback: Sequence[Feedback]) -> list[Feedback]:
    """The highest revision of each report, in the order the reports were last revised."""
    latest: dict[str, Feedback] = {}
    for item in feedback:
        if item.report_id not in latest or item.revision >= latest[item.report_id].revision:
            latest.pop(item.report_id, None)
            latest[item.report_id] = item
    return sorted(latest.values(), key=lambda item: (as_utc(item.received_at), item.report_id))


def latest_labels(feedback: Sequence[Feedback]) -> list[Feedback]:
    """Each report's latest revision that names a leaf: a later revision without one (case times only)
    does not undo the label."""
    return latest_revisions([item for item in feedback if item.leaf_id is not None])


def _answer_row(answer: Answer) -> tuple:
    values = asdict(answer)
    values["answered_at"] = as_utc(answer.answered_at).timestamp()
    values["needs_review"] = int(answer.needs_review)
    return tuple(values[name] for name in ANSWER_COLUMNS)


def _answer(row: tuple) -> Answer:
    values = dict(zip(ANSWER_COLUMNS, row, strict=True))
    values["answered_at"] = datetime.fromtimestamp(values["answered_at"], tz=UTC)
    values["needs_review"] = bool(values["needs_review"])
    return Answer(**values)


def _feedback_json(feedback: Feedback) -> str:
    values = asdict(feedback)
    for name in _TIMES:
        if values[name] is not None:
            values[name] = as_utc(values[name]).isoformat()
    return json.dumps(values, ensure_ascii=False, sort_keys=True)


def _feedback_from_json(body: str) -> Feedback:
    values = json.loads(body)
    for name in _TIMES:
        if values.get(name) is not None:
            values[name] = datetime.fromisoformat(values[name])
    return Feedback(**values)


__all__ = [
    "ALREADY_RECORDED",
    "RECORDED",
    "Answer",
    "Feedback",
    "FeedbackConflictError",
    "FeedbackStore",
    "SqliteFeedbackStore",
    "StoreUnavailableError",
    "latest_labels",
    "latest_revisions",
]
