"""Request and response bodies of POST /v1/intake: a report classified, checked against the recent
reports for duplicates, checked for invalid content, and stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

from serving.schemas import EXAMPLE_TEXT, EXAMPLE_TITLE, ClassifyResult, ModelRef
from serving.unicode_text import CleanStr

DuplicateDecision = Literal["duplicate", "related", "new"]


def _iso_text(value: Any) -> Any:
    """Times as ISO 8601 text only: pydantic would also take a number as a Unix timestamp."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string, e.g. 2026-12-01T09:30:00+08:00")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text)]
SkipReason = Literal["no_text", "no_place", "unknown_grid", "store_unavailable"]


class IntakeItem(BaseModel):
    """One incoming report. `text` may be missing or empty: the answer then says so (no classification,
    no duplicate search) instead of refusing the report."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"id": "E20261201-0001", "title": EXAMPLE_TITLE, "text": EXAMPLE_TEXT, "grid_id": "G0001"}
            ]
        },
    )

    id: CleanStr | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The report's id, echoed and stored (a dispatcher merges by it); default: generated.",
    )
    title: CleanStr | None = Field(default=None, description="Optional short title.")
    text: CleanStr | None = Field(default=None, description="The report as written (PII redacted inside).")
    grid_id: CleanStr | None = Field(
        default=None,
        max_length=64,
        description="The grid it happened in: duplicates are searched in it and its neighbouring grids.",
    )
    place: CleanStr | None = Field(
        default=None,
        max_length=200,
        description="A named place (estate, street, village) when there is no grid: duplicates are searched "
        "among reports naming it. Without either, the places named in the text are used.",
    )
    reported_at: IsoDateTime | None = Field(
        default=None,
        description="When it was reported (ISO 8601; without an offset: the site's time zone). Default: now.",
    )


class BatchIntakeRequest(BaseModel):
    """Several reports at once (at most `max_batch`). Each is compared with the stored reports and with
    the earlier items of the same batch."""

    model_config = ConfigDict(extra="forbid")

    items: list[IntakeItem] = Field(min_length=1)


def _variant(value: Any) -> str:
    has_items = isinstance(value, dict) and "items" in value or isinstance(value, BatchIntakeRequest)
    return "batch" if has_items else "single"


IntakeRequest = Annotated[
    Annotated[IntakeItem, Tag("single")] | Annotated[BatchIntakeRequest, Tag("batch")],
    Discriminator(_variant),
]


class DuplicateMatch(BaseModel):
    id: str = Field(description="The earlier report's id: merge with it.")
    score: float = Field(ge=0.0, le=1.0, description="How likely the two are the same problem at one place.")
    decision: DuplicateDecision
    reported_at: datetime
    grid_id: str | None = None
    title: str | None = Field(default=None, description="The earlier report's title, PII redacted.")


class DuplicateCheck(BaseModel):
    decision: DuplicateDecision | None = Field(
        description="`duplicate`: the same problem at the same place was reported before (merge); `related`: "
        "worth a look; `new`; null when the search was skipped (`skipped` says why)."
    )
    skipped: SkipReason | None = Field(
        default=None,
        description="Why there was no duplicate search: no text, no grid and no named place, a grid the "
        "site does not have, or the report store is unavailable (the report is kept and stored later).",
    )
    detail: str | None = Field(default=None, description="The reason in words.")
    matches: list[DuplicateMatch] = Field(
        default_factory=list,
        description="Earlier reports scoring at least `related`, best first (at most 5).",
    )
    searched: int = Field(default=0, description="Earlier reports compared.")


class InvalidVerdict(BaseModel):
    invalid: bool
    reason: str | None = Field(
        default=None,
        description="empty | gibberish | test | advertising | abuse | thanks | out_of_scope when invalid.",
    )
    confidence: float | None = None
    model: ModelRef


class IntakeResult(BaseModel):
    id: str
    classification: ClassifyResult | None = Field(
        description="As POST /v1/classify answers; null when the report has no text (`not_classified`)."
    )
    not_classified: str | None = Field(default=None, description="Why there is no classification.")
    invalid: InvalidVerdict | None = Field(
        default=None, description="The invalid-report model's verdict; null when no such model is registered."
    )
    duplicates: DuplicateCheck
    stored: Literal["stored", "spooled", "not_stored"] = Field(
        description="`stored` in the recent-report store; `spooled` kept in the spool file while the store "
        "is unavailable (moved in when it answers); `not_stored` when there is nothing to keep (no text)."
    )


class DuplicateModelRef(BaseModel):
    duplicate_threshold: float
    related_threshold: float
    mlflow_run_id: str | None = None
    window_days: float


class IntakeResponse(BaseModel):
    model: ModelRef | None = Field(description="The text model that classified the reports.")
    duplicate_model: DuplicateModelRef
    results: list[IntakeResult]
