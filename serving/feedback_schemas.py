"""Request and response bodies of POST /v1/feedback and GET /v1/review-queue."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from serving.intake_schemas import IsoDateTime
from serving.schemas import ModelRef
from serving.unicode_text import CleanStr

InvalidReason = Literal["empty", "gibberish", "test", "advertising", "abuse", "thanks_only", "out_of_scope"]


class FeedbackRequest(BaseModel):
    """A person's word on one report GridSense took in (`POST /v1/intake`). Send only what was reviewed;
    a later change is the next `revision`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "report_id": "E20261201-0001",
                    "revision": 1,
                    "leaf_id": "城市管理/市容环境/占道经营",
                    "department": "城管执法局",
                    "dispatched_at": "2026-12-01T10:05:00+08:00",
                }
            ]
        },
    )

    report_id: CleanStr = Field(min_length=1, max_length=128, description="The id `/v1/intake` answered for.")
    revision: int = Field(
        ge=1,
        le=1_000_000,
        description="1 for the first feedback on a report, then 2, 3, ...: sending a revision again is "
        "idempotent; the same revision with other content is a 409.",
    )
    leaf_id: CleanStr | None = Field(
        default=None, max_length=300, description="The confirmed or corrected taxonomy leaf."
    )
    department: CleanStr | None = Field(
        default=None, max_length=200, description="The department the case went to (one of the taxonomy's)."
    )
    duplicate_of: CleanStr | None = Field(
        default=None, min_length=1, max_length=128, description="The earlier report this one repeats."
    )
    invalid: bool | None = Field(default=None, description="True: not actionable (then give the reason).")
    invalid_reason: InvalidReason | None = None
    accepted_at: IsoDateTime | None = Field(default=None, description="Case accepted (ISO 8601).")
    dispatched_at: IsoDateTime | None = Field(default=None, description="Case dispatched (ISO 8601).")
    closed_at: IsoDateTime | None = Field(default=None, description="Case closed (ISO 8601).")


class FeedbackResponse(BaseModel):
    report_id: str
    revision: int
    status: Literal["recorded", "already_recorded"]
    corrected: bool | None = Field(
        description="True when `leaf_id` differs from the model's answer, false when it confirms it, null "
        "without a leaf."
    )
    answered_by: ModelRef | None = Field(description="The model version that answered the report.")


class ReviewReasons(BaseModel):
    uncertainty: float = Field(description="1 minus the margin between the top two leaves.")
    novelty: float | None = Field(description="Share of the text's character 2-/3-grams the model never saw.")
    disagreement: bool = Field(description="A second model (a cascade's fast model) chose another leaf.")


class ReviewQueueItem(BaseModel):
    report_id: str
    reported_at: datetime | None
    title: str | None
    text: str = Field(description="The report as stored (PII redacted).")
    grid_id: str | None
    leaf_id: str = Field(description="The model's answer.")
    confidence: float
    priority: float = Field(description="What labelling this report would teach the model, higher first.")
    reasons: ReviewReasons
    answered_by: ModelRef


class ReviewQueueResponse(BaseModel):
    items: list[ReviewQueueItem]
    unreviewed: int = Field(description="Reports of the window without feedback that were ranked.")
    window_days: float
