"""GET /v1/drift: the live drift signals' history of this API worker (the dashboard's models panel)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from serving.auth import KeyFirstRoute, Permission, require
from serving.drift_gauges import DriftDep
from serving.schemas import ERROR_RESPONSES

router = APIRouter(
    prefix="/v1", tags=["models"], dependencies=[require(Permission.MODELS)], route_class=KeyFirstRoute
)


class DriftReferenceInfo(BaseModel):
    model_version: str | None = Field(description="The text model version the reference was scored with.")
    reports: int = Field(description="Held-out reports in the reference.")
    source: str | None = Field(description="Where they came from (file:split).")


class DriftPoint(BaseModel):
    at: str = Field(description="When the signals were computed (UTC, ISO 8601).")
    reports_seen: int = Field(description="Reports this worker had measured by then.")
    window_reports: int = Field(description="Reports in the window the signals cover.")
    signals: dict[str, float | None] = Field(description="Each signal's value (None: not measured).")
    alarms: list[str] = Field(description="The signals above their thresholds.")


class DriftResponse(BaseModel):
    reference: DriftReferenceInfo | None = Field(
        description="The training reference (`gridsense monitor` saves it); null: none yet, no signals."
    )
    thresholds: dict[str, float] = Field(description="Each signal's alarm threshold (GRIDSENSE_DRIFT_*).")
    window_reports: int = Field(description="Reports in the live window now.")
    history: list[DriftPoint] = Field(description="The signals after each refresh, oldest first.")


@router.get(
    "/drift",
    summary="Drift of the classified traffic",
    description=(
        "The drift signals of the latest classified reports against the text model's training reference "
        "(category mix, confidence, needs_review, unseen n-grams, novel reports, text length), refreshed "
        "every 256 reports, oldest first. Each API worker keeps its own window and history; /metrics has "
        "the same values as `gridsense_drift_*` gauges."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403)},
)
async def drift(gauges: DriftDep) -> DriftResponse:
    return DriftResponse(**gauges.snapshot())
