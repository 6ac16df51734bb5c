"""Response bodies of the grid routes (map geometry, weekly activity, recent reports)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from serving.schemas import ModelRef

AttributeValue = float | int | bool | str | None


class GridShape(BaseModel):
    grid_id: str
    district: str | None = None
    community: str | None = None
    x_m: float | None = Field(default=None, description="Position in metres (east), for drawing the map.")
    y_m: float | None = Field(default=None, description="Position in metres (north).")
    lat: float | None = None
    lon: float | None = None
    polygon: list[tuple[float, float]] | None = Field(
        default=None, description="The grid's map cell: (x_m, y_m) vertices, counter-clockwise."
    )
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict, description="Static grid attributes (population, building age, ...)."
    )


class GridsResponse(BaseModel):
    forecast_week: date | None = Field(description="The week after the event log ends.")
    weeks: list[date] = Field(description="Mondays of the weeks with activity data, oldest first.")
    built_at: AwareDatetime | None = None
    grids: list[GridShape]


class GridWeekCounts(BaseModel):
    grid_id: str
    dispute: list[int] = Field(description="Dispute events per week (same order as `weeks`).")
    hazard: list[int]
    total: list[int] = Field(description="All events per week.")


class GridWeeklyResponse(BaseModel):
    weeks: list[date]
    grids: list[GridWeekCounts]


class CategoryCounts(BaseModel):
    category_l1: str
    counts: list[int]


class GridActivityResponse(BaseModel):
    grid_id: str
    weeks: list[date]
    categories: list[CategoryCounts] = Field(
        description="Events per week by first-level category, the most frequent first."
    )
    dispute: list[int]
    hazard: list[int]
    total: list[int]


class RecentReport(BaseModel):
    event_id: str
    reported_at: AwareDatetime = Field(
        description="When it was reported, in the site's time zone with its offset (GRIDSENSE_SITE_TIMEZONE, "
        "default Asia/Shanghai: +08:00).",
        examples=["2026-01-05T09:30:00+08:00"],
    )
    channel: str | None = None
    status: str | None = None
    title: str | None = Field(default=None, description="PII-redacted.")
    text: str = Field(description="PII-redacted, cut to 300 characters.")
    category_l1: str
    category_l2: str
    category_l3: str
    leaf_id: str
    department: str
    risk_group: Literal["dispute", "hazard", "none"]
    confidence: float = Field(ge=0.0, le=1.0, description="The text model's probability of the leaf.")
    needs_review: bool


class GridReportsResponse(BaseModel):
    grid_id: str
    model: ModelRef | None = Field(description="The text model that classified these reports.")
    redacted: bool = Field(
        default=True,
        description="False only for `raw=true` (data_scientist): titles and texts are then as written.",
    )
    reports: list[RecentReport] = Field(description="Newest first.")
