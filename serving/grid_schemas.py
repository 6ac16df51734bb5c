"""Response bodies of the grid routes (map geometry, weekly activity, recent reports)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from serving.schemas import ModelRef, RiskGroupName, RiskGroupOrNone

AttributeValue = float | int | bool | str | None
LEGACY_GROUPS = ("dispute", "hazard")  # also answered as top-level keys, for clients of the two-group API


def _group_counts() -> Any:
    return Field(
        description="Events per week for each of the site's risk groups (group id -> counts in the order "
        "of `weeks`).",
        examples=[{"dispute": [0, 2, 1], "hazard": [1, 0, 0]}],
    )


def _legacy_counts() -> Any:
    return Field(
        default=None,
        deprecated=True,
        description="Deprecated: the same as `groups.<id>` for the demo's two groups (dispute, hazard); "
        "null when the site has no such group.",
    )


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
    groups: list[RiskGroupName] = Field(
        default_factory=list, description="The risk groups counted in the activity tables."
    )
    built_at: AwareDatetime | None = None
    grids: list[GridShape]


class GridWeekCounts(BaseModel):
    grid_id: str
    groups: dict[RiskGroupName, list[int]] = _group_counts()
    total: list[int] = Field(description="All events per week.")
    dispute: list[int] | None = _legacy_counts()
    hazard: list[int] | None = _legacy_counts()


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
    groups: dict[RiskGroupName, list[int]] = _group_counts()
    total: list[int]
    dispute: list[int] | None = _legacy_counts()
    hazard: list[int] | None = _legacy_counts()


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
    category_l2: str | None = None
    category_l3: str | None = None
    leaf_id: str | None = None
    department: str | None = Field(default=None, description="Null when the site's taxonomy names none.")
    risk_group: RiskGroupOrNone = Field(description="One of the site's group ids, or `none`.")
    confidence: float | None = Field(
        ge=0.0,
        le=1.0,
        description="The text model's probability of the leaf; null when no text model classified the "
        "report (a city without texts: the category is the log's own).",
    )
    needs_review: bool | None = Field(
        default=None, description="Null when no text model classified the report (see `confidence`)."
    )
    category_source: Literal["model", "log"] | None = Field(
        default=None,
        description="Where the category comes from: `model` (the text model) or `log` (the event log's own, "
        "for a report without text or a site without a text model); null in tables from before it was kept.",
    )


class GridReportsResponse(BaseModel):
    grid_id: str
    model: ModelRef | None = Field(description="The text model that classified these reports.")
    redacted: bool = Field(
        default=True,
        description="False only for `raw=true` (data_scientist): titles and texts are then as written.",
    )
    reports: list[RecentReport] = Field(description="Newest first.")
