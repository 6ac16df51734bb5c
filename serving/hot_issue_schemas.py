"""Response models of GET /v1/hot-issues (the tables `gridsense hot-issues` writes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class HotIssue(BaseModel):
    issue_id: str = Field(examples=["H0001"])
    rank: int
    heat: float = Field(
        description="log1p(reports) + log1p(reporters) + 0.5 log1p(likes) + 0.5 growth + 0.5 concentration"
    )
    title: str = Field(description="A representative phrase of the member reports.")
    place: str | None = Field(description="The place the reports name most (else the grid).")
    grid_id: str | None
    category: str | None = Field(description="The members' most common first-level category, when known.")
    first_at: datetime
    last_at: datetime
    n_reports: int
    n_reporters: int
    likes: int
    growth: float = Field(
        description="log((reports + 1) / (similar reports in the previous window + 1)), 0..2"
    )
    concentration: float = Field(description="Share of the reports in the most common grid or place.")
    member_ids: list[str]


class HotIssuesResponse(BaseModel):
    available: bool = Field(description="False until `gridsense hot-issues` has written its tables.")
    built_at: datetime | None = None
    issues: list[HotIssue]


class HotIssueReport(BaseModel):
    event_id: str
    reported_at: datetime
    title: str | None
    text: str = Field(description="PII-redacted, cut to 160 characters.")


class HotIssueReportsResponse(BaseModel):
    issue_id: str
    reports: list[HotIssueReport]
