"""POST /v1/feedback (a dispatcher's corrections) and GET /v1/review-queue (what to label first)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from serving.auth import KeyFirstRoute, Permission, Principal, require
from serving.deps import AuditDep, SettingsDep, TextModelDep
from serving.feedback_schemas import FeedbackRequest, FeedbackResponse, ReviewQueueResponse
from serving.feedback_service import FeedbackService
from serving.schemas import ERROR_RESPONSES

router = APIRouter(prefix="/v1", route_class=KeyFirstRoute)
_BUILD_LOCK = asyncio.Lock()


async def get_feedback_service(request: Request, settings: SettingsDep, audit: AuditDep) -> FeedbackService:
    """Built on the first call of this worker (opens the store)."""
    service = getattr(request.app.state, "feedback", None)
    if service is None:
        async with _BUILD_LOCK:
            service = getattr(request.app.state, "feedback", None)
            if service is None:
                service = FeedbackService.from_settings(settings, audit)
                request.app.state.feedback = service
    return service


FeedbackDep = Annotated[FeedbackService, Depends(get_feedback_service)]


@router.post(
    "/feedback",
    tags=["feedback"],
    status_code=201,
    summary="Record a person's confirmation or correction of a report GridSense took in",
    description=(
        "For a report id `POST /v1/intake` answered: the confirmed or corrected leaf and department, the "
        "report it duplicates, the invalid flag and reason, and the case times. Append-only: each change is "
        "the next `revision`; sending a revision again answers 200 `already_recorded`, the same revision "
        "with other content 409. Kept with who sent it, when, and the model version that answered; the "
        "report's text is kept redacted. `gridsense retrain text` learns from the leaves."
    ),
    responses={
        200: {"model": FeedbackResponse, "description": "This revision was recorded before (a retry)."},
        **{status: ERROR_RESPONSES[status] for status in (401, 403, 404, 409, 422, 503)},
    },
)
async def record_feedback(
    body: Annotated[FeedbackRequest, Body()],
    principal: Annotated[Principal, require(Permission.FEEDBACK)],
    text_service: TextModelDep,
    feedback: FeedbackDep,
    response: Response,
) -> FeedbackResponse:
    taxonomy = text_service.classifier.taxonomy_
    result = await run_in_threadpool(feedback.record, body, principal, taxonomy)
    if result.status != "recorded":
        response.status_code = 200
    return result


@router.get(
    "/review-queue",
    tags=["review"],
    summary="The unreviewed reports whose labels would teach the model most",
    description=(
        "Reports taken in during the retention window with no feedback yet, ranked by uncertainty (1 − "
        "the margin between the top two leaves), novelty (share of character n-grams the model never "
        "saw, as a percentile) and disagreement between models, and spread over different phrasings "
        "(a report too similar to one above it waits). Label them with `POST /v1/feedback`."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403, 422, 503)},
)
async def review_queue(
    principal: Annotated[Principal, require(Permission.REVIEW)],
    feedback: FeedbackDep,
    limit: Annotated[int, Query(ge=1, le=500, description="How many reports.")] = 50,
) -> ReviewQueueResponse:
    return await run_in_threadpool(feedback.review_queue, limit)
