"""POST /v1/feedback and GET /v1/review-queue behind the routers: checks, the append-only store, the audit
record, and the ranking of unreviewed reports.

Every check runs before anything is written, and the feedback row is one SQLite transaction, so a refused
request leaves nothing behind. The audit record (hash-chained) follows the row.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from core.audit import AuditLog
from core.feedback_store import (
    RECORDED,
    Answer,
    Feedback,
    FeedbackConflictError,
    SqliteFeedbackStore,
)
from core.report_store import StoredReport, StoreUnavailableError
from core.settings import Settings
from features.taxonomy import Taxonomy
from monitoring.review_queue import Candidate, diverse_top, priorities
from serving.auth import Principal
from serving.errors import InvalidFeedbackError, NotReadyError, RevisionConflictError, UnknownReportError
from serving.feedback_schemas import (
    FeedbackRequest,
    FeedbackResponse,
    ReviewQueueItem,
    ReviewQueueResponse,
    ReviewReasons,
)
from serving.schemas import ModelRef

logger = logging.getLogger(__name__)

REVIEW_POOL = 5_000  # the newest unreviewed answers ranked per call


class FeedbackService:
    def __init__(self, store: SqliteFeedbackStore, audit: AuditLog, window_days: float) -> None:
        self.store = store
        self.audit = audit
        self.window_days = window_days

    @classmethod
    def from_settings(cls, settings: Settings, audit: AuditLog) -> FeedbackService:
        return cls(SqliteFeedbackStore(settings.report_store_path), audit, settings.report_retention_days)

    # ---- feedback -------------------------------------------------------------------------------------
    def record(
        self, request: FeedbackRequest, principal: Principal, taxonomy: Taxonomy, now: datetime | None = None
    ) -> FeedbackResponse:
        """Check, store and audit one revision; raises the API error that says what is wrong."""
        _check_against_taxonomy(request, taxonomy)
        answer, report = self._known_report(request.report_id)
        if request.duplicate_of is not None:
            self._check_duplicate_of(request)
        feedback = _feedback(request, principal, answer, report, now or datetime.now(UTC))
        try:
            status = self.store.record(feedback)
        except FeedbackConflictError as exc:
            raise RevisionConflictError(str(exc), field="revision") from exc
        except StoreUnavailableError as exc:
            raise NotReadyError(f"feedback store unavailable: {exc}") from exc
        corrected = None if request.leaf_id is None or answer is None else request.leaf_id != answer.leaf_id
        if status == RECORDED:
            self.audit.record(
                "feedback",
                principal.key_id,
                report_id=request.report_id,
                revision=request.revision,
                leaf_id=request.leaf_id,
                corrected=corrected,
                model_version=answer.model_version if answer else None,
            )
        answered_by = ModelRef(name=answer.model_name, version=answer.model_version) if answer else None
        return FeedbackResponse(
            report_id=request.report_id,
            revision=request.revision,
            status=status,
            corrected=corrected,
            answered_by=answered_by,
        )

    def _known_report(self, report_id: str) -> tuple[Answer | None, StoredReport | None]:
        try:
            answer = self.store.answers([report_id]).get(report_id)
            stored = self.store.get([report_id])
        except StoreUnavailableError as exc:
            raise NotReadyError(f"feedback store unavailable: {exc}") from exc
        report = stored[0] if stored else None
        if answer is None and report is None:
            raise UnknownReportError(
                f"report {report_id!r} was never taken in by POST /v1/intake (or is past retention)",
                field="report_id",
            )
        return answer, report

    def _check_duplicate_of(self, request: FeedbackRequest) -> None:
        if request.duplicate_of == request.report_id:
            raise InvalidFeedbackError("a report cannot be a duplicate of itself", field="duplicate_of")
        if not self.store.get([request.duplicate_of]) and not self.store.answers([request.duplicate_of]):
            raise InvalidFeedbackError(
                f"duplicate_of {request.duplicate_of!r} is no report GridSense took in", field="duplicate_of"
            )

    # ---- review queue ---------------------------------------------------------------------------------
    def review_queue(self, limit: int, now: datetime | None = None) -> ReviewQueueResponse:
        since = (now or datetime.now(UTC)) - timedelta(days=self.window_days)
        try:
            answers = self.store.unreviewed(since, REVIEW_POOL)
            reports = {report.id: report for report in self.store.get([a.report_id for a in answers])}
        except StoreUnavailableError as exc:
            raise NotReadyError(f"feedback store unavailable: {exc}") from exc
        answers = [answer for answer in answers if answer.report_id in reports]
        candidates = [
            Candidate(a.margin, a.novelty, a.second_leaf_id is not None and a.second_leaf_id != a.leaf_id)
            for a in answers
        ]
        priority, uncertainty = priorities(candidates)
        texts = [reports[a.report_id].text for a in answers]
        chosen = diverse_top(texts, priority, limit)
        items = [
            _queue_item(answers[i], reports[answers[i].report_id], priority[i], uncertainty[i], candidates[i])
            for i in chosen
        ]
        return ReviewQueueResponse(items=items, unreviewed=len(answers), window_days=self.window_days)


def _check_against_taxonomy(request: FeedbackRequest, taxonomy: Taxonomy) -> None:
    leaves = {leaf.id: leaf for leaf in taxonomy.leaves}
    if request.leaf_id is not None and request.leaf_id not in leaves:
        raise InvalidFeedbackError(
            f"leaf {request.leaf_id!r} is not in the served taxonomy {taxonomy.name!r} "
            f"({len(leaves)} leaves; GET /v1/models names the version)",
            field="leaf_id",
        )
    departments = {leaf.department for leaf in taxonomy.leaves}
    if request.department is not None and request.department not in departments:
        raise InvalidFeedbackError(
            f"department {request.department!r} is none of the taxonomy's {len(departments)} departments",
            field="department",
        )
    if request.invalid_reason is not None and request.invalid is not True:
        raise InvalidFeedbackError("invalid_reason needs invalid: true", field="invalid_reason")


def _feedback(
    request: FeedbackRequest,
    principal: Principal,
    answer: Answer | None,
    report: StoredReport | None,
    now: datetime,
) -> Feedback:
    return Feedback(
        report_id=request.report_id,
        revision=request.revision,
        actor=principal.key_id,
        role=principal.role.value,
        received_at=now,
        reported_at=report.reported_at if report else answer.answered_at,  # type: ignore[union-attr]
        text=report.text if report else "",
        title=report.title if report else None,
        leaf_id=request.leaf_id,
        department=request.department,
        duplicate_of=request.duplicate_of,
        invalid=request.invalid,
        invalid_reason=request.invalid_reason,
        accepted_at=request.accepted_at,
        dispatched_at=request.dispatched_at,
        closed_at=request.closed_at,
        answered_leaf_id=answer.leaf_id if answer else None,
        model_name=answer.model_name if answer else None,
        model_version=answer.model_version if answer else None,
    )


def _queue_item(
    answer: Answer, report: StoredReport, priority: float, uncertainty: float, candidate: Candidate
) -> ReviewQueueItem:
    return ReviewQueueItem(
        report_id=answer.report_id,
        reported_at=report.reported_at,
        title=report.title,
        text=report.text,
        grid_id=report.grid_id,
        leaf_id=answer.leaf_id,
        confidence=answer.confidence,
        priority=float(priority),
        reasons=ReviewReasons(
            uncertainty=float(uncertainty), novelty=answer.novelty, disagreement=candidate.disagreement
        ),
        answered_by=ModelRef(name=answer.model_name, version=answer.model_version),
    )
