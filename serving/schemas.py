"""Request and response bodies of the API. Requests and responses are separate models."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

from serving.unicode_text import CleanStr

RiskGroupName = str  # a site's risk group id (the taxonomy's `risk_groups`; the demo: dispute, hazard)
RiskGroupOrNone = str  # a leaf's risk group: one of the site's group ids, or `none`
ScorerName = str  # model | hotspot | mean_52w | blend (batch.forecast)

EXAMPLE_TITLE = "楼上深夜装修噪音扰民"
EXAMPLE_TEXT = (
    "3号楼502住户连续一周晚上十一点后还在装修，电钻声很大，"
    "多次敲门沟通无果，家里老人无法休息，请社区协调处理。"
)


# ---- requests ----------------------------------------------------------------------------
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: Any) -> Any:
    """Dates as YYYY-MM-DD only: pydantic would also take '20260112' as a Unix timestamp."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace only")
    return value


ReportText = Annotated[
    CleanStr,
    AfterValidator(_not_blank),
    Field(
        description="The report as written by the citizen or grid worker (raw text; PII is redacted inside). "
        "Valid Unicode: lone surrogates and control characters other than tab and line breaks are a 422. "
        "Must not be empty or whitespace only (422); the longest accepted is in `maxLength`.",
        # stated here, enforced by _not_blank (which also refuses whitespace only: the pattern)
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
    ),
]


class ClassifyItem(BaseModel):
    """One event report."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"title": EXAMPLE_TITLE, "text": EXAMPLE_TEXT}]}
    )

    id: CleanStr | None = Field(
        default=None, max_length=128, description="Echoed in the result; default: position."
    )
    title: CleanStr | None = Field(
        default=None, description="Optional short title, classified together with text."
    )
    text: ReportText


class BatchClassifyRequest(BaseModel):
    """Several reports at once (at most `max_batch`, 256 by default)."""

    model_config = ConfigDict(extra="forbid")

    items: list[ClassifyItem] = Field(min_length=1, description="The reports, classified in order.")


BODY_VARIANT_TAGS = ("single", "batch")


def _body_variant(value: Any) -> str:
    has_items = isinstance(value, dict) and "items" in value or isinstance(value, BatchClassifyRequest)
    return "batch" if has_items else "single"


ClassifyRequest = Annotated[
    Annotated[ClassifyItem, Tag("single")] | Annotated[BatchClassifyRequest, Tag("batch")],
    Discriminator(_body_variant),
]


def request_items(request: ClassifyItem | BatchClassifyRequest) -> list[ClassifyItem]:
    return request.items if isinstance(request, BatchClassifyRequest) else [request]


# ---- classification results -----------------------------------------------------------------
class ModelRef(BaseModel):
    name: str = Field(examples=["gridsense-text"])
    version: str | None = Field(
        description="Registry version; null if the model was not loaded from the registry."
    )


class CategoryScore(BaseModel):
    name: str
    probability: float = Field(ge=0.0, le=1.0)


class Alternative(BaseModel):
    leaf_id: str
    category_l3: str
    probability: float = Field(ge=0.0, le=1.0)
    department: str


class EvidencePhrase(BaseModel):
    phrase: str = Field(description="A phrase of the normalised, PII-redacted report.")
    weight: float = Field(description="How much the predicted leaf's probability drops without it.")


class ClassifyResult(BaseModel):
    id: str = Field(description="The item's id, or its position in the request.")
    category_l1: CategoryScore
    category_l2: CategoryScore
    category_l3: CategoryScore
    leaf_id: str = Field(description="Taxonomy leaf: the distinct names of the path joined by '/'.")
    department: str = Field(description="Department that handles this kind of event.")
    risk_group: RiskGroupOrNone = Field(
        description="The leaf's risk group: one of the site's group ids (`GET /v1/site`; the demo city: "
        "`dispute`, `hazard`) or `none`.",
        examples=["dispute"],
    )
    needs_review: bool = Field(
        description="True when the model is unsure and a person should check the label."
    )
    alternatives: list[Alternative] = Field(description="The most likely leaves, best first.")
    labels: list[Alternative] = Field(
        default_factory=list,
        description="Every leaf at or above the label threshold, primary (= `leaf_id`) first: a compound "
        "report (占道经营还噪音扰民) gets several.",
    )
    evidence: list[EvidencePhrase] | None = Field(
        default=None,
        description="The phrases that drove the decision, strongest first (only with `evidence=true`).",
    )
    truncated: bool = Field(
        default=False,
        description="True when the title or text was over the limit and only its start was classified.",
    )


class ClassifyResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": {"name": "gridsense-text", "version": "3"},
                    "results": [
                        {
                            "id": "0",
                            "category_l1": {"name": "矛盾纠纷", "probability": 0.93},
                            "category_l2": {"name": "邻里纠纷", "probability": 0.88},
                            "category_l3": {"name": "噪音扰邻纠纷", "probability": 0.81},
                            "leaf_id": "矛盾纠纷/邻里纠纷/噪音扰邻纠纷",
                            "department": "社区居委会",
                            "risk_group": "dispute",
                            "needs_review": False,
                            "alternatives": [
                                {
                                    "leaf_id": "矛盾纠纷/邻里纠纷/噪音扰邻纠纷",
                                    "category_l3": "噪音扰邻纠纷",
                                    "probability": 0.81,
                                    "department": "社区居委会",
                                },
                                {
                                    "leaf_id": "城市管理/市容环境/施工噪音",
                                    "category_l3": "施工噪音",
                                    "probability": 0.07,
                                    "department": "城管执法队",
                                },
                            ],
                        }
                    ],
                }
            ]
        }
    )

    model: ModelRef
    results: list[ClassifyResult]


# ---- risk forecasts ----------------------------------------------------------------------------
RiskLevelName = Literal["高", "中", "低"]


class RiskDriver(BaseModel):
    feature: str = Field(description="Panel feature, e.g. `cnt_dispute_4w`.")
    value: float | None = Field(default=None, description="Its value for this grid and week.")
    contribution: float = Field(
        description="SHAP contribution on the model's raw scale (log-odds or log count)."
    )
    direction: Literal["up", "down"] = Field(description="`up` raises the risk, `down` lowers it.")
    text: str = Field(description="The driver for people, e.g. 近4周矛盾纠纷12起，为近一年周均的3倍.")


class RiskTrendPoint(BaseModel):
    week_start: date
    probability: float | None = None
    rank: int | None = None
    level: RiskLevelName | None = None
    actual_count: int | None = Field(default=None, description="Events that week; null until known.")


class RiskScore(BaseModel):
    group: RiskGroupName = Field(
        description="The site's risk group id (`GET /v1/site`).", examples=["dispute"]
    )
    probability: float = Field(
        ge=0.0, le=1.0, description="Probability of at least one such event in the week."
    )
    expected_events: float | None = Field(
        default=None,
        ge=0.0,
        description="Expected number of such events in the week (the Poisson mean); null for forecasts "
        "made before it was recorded. What separates grids in a dense city, where most probabilities "
        "are near 1.",
    )
    relative_risk: float | None = Field(
        default=None,
        ge=0.0,
        description="`expected_events` over the city's mean for the group and week (1 = an average grid).",
    )
    scorer: ScorerName | None = Field(
        default=None,
        description="Which scorer made this forecast, chosen on the site's backtest: `model` (the risk "
        "model), `hotspot` (decayed event history), `mean_52w` (52-week mean) or `blend` (model and "
        "baseline); null when not recorded.",
    )
    rank: int = Field(ge=1, description="1 = highest risk among all grids for this group and week.")
    model_name: str
    model_version: str | None = Field(
        description="Registry version, or `backtest` for out-of-sample backtest forecasts; null for a past "
        "week whose history row did not record it."
    )
    level: RiskLevelName | None = Field(
        default=None, description="高 / 中 / 低: by default the top 5% / next to top 20% of grids by rank."
    )
    drivers: list[RiskDriver] = Field(
        default_factory=list, description="Top 3 drivers, largest first (empty for a past week)."
    )
    contributions: dict[str, float] | None = Field(
        default=None,
        description="All non-zero SHAP contributions and `bias` (only with `contributions=true`, and only "
        "for the latest week).",
    )
    trend: list[RiskTrendPoint] = Field(
        default_factory=list,
        description="This grid's last 8 forecasts up to this week (this week included), oldest first.",
    )


class GridRisk(BaseModel):
    grid_id: str
    district: str | None = None
    risks: list[RiskScore]


class RiskResponse(BaseModel):
    model: ModelRef = Field(description="The risk model version that made these forecasts.")
    week_start: date = Field(description="Monday of the forecast week.")
    available_weeks: list[date] = Field(
        description="Every week `week=` can ask for (the latest forecast week and each week of the "
        "forecast history), newest first."
    )
    groups: list[RiskGroupName] = Field(
        default_factory=list, description="The risk groups the forecasts hold (the site's group ids)."
    )
    scorers: dict[RiskGroupName, ScorerName] = Field(
        default_factory=dict,
        description="Which scorer answers for each group this week (see `RiskScore.scorer`); a group is "
        "left out when its forecasts do not say.",
    )
    group: RiskGroupName | None = None
    top: int | None = None
    grids: list[GridRisk]


class RiskHistoryPoint(BaseModel):
    week_start: date = Field(description="Monday of the forecast week.")
    group: RiskGroupName
    probability: float | None = None
    expected_events: float | None = None
    relative_risk: float | None = None
    scorer: ScorerName | None = None
    rank: int | None = None
    level: RiskLevelName | None = None
    model_version: str | None = None
    source: str | None = Field(
        default=None, description="`forecast` (batch run) or `backtest` (out-of-sample)."
    )
    actual_count: int | None = Field(
        default=None, description="Events that actually happened; null until known."
    )
    actual: int | None = Field(default=None, description="1 if at least one event happened, 0 if none.")


class RiskHistoryResponse(BaseModel):
    grid_id: str
    district: str | None = None
    group: RiskGroupName | None = None
    history: list[RiskHistoryPoint] = Field(description="Past forecasts next to what happened, oldest first.")


# ---- site ---------------------------------------------------------------------------------------
class SiteGroup(BaseModel):
    id: RiskGroupName = Field(description="The group id used by `/v1/risk?group=` and the tables.")
    label: str = Field(description="The group's name in the site's language, e.g. 矛盾纠纷.")


class SiteResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "site": "demo",
                    "language": "zh",
                    "groups": [{"id": "dispute", "label": "矛盾纠纷"}, {"id": "hazard", "label": "安全隐患"}],
                    "map_metric": "probability",
                    "source": "file",
                }
            ]
        }
    )

    site: str = Field(description="The site's name (GRIDSENSE_SITE).")
    language: Literal["zh", "en"] = Field(description="Language of the dashboard's labels and driver texts.")
    groups: list[SiteGroup] = Field(
        min_length=1, description="The site's risk groups (1..n), in display order."
    )
    map_metric: Literal["probability", "expected", "relative"] = Field(
        description="What the map draws by default: the probability of at least one event, the expected "
        "number of events, or the risk relative to the city's mean."
    )
    source: Literal["file", "default"] = Field(
        description="`file`: read from the dashboard tables' site description; `default`: built from the "
        "forecasts' groups (tables written before sites existed)."
    )


# ---- model registry ----------------------------------------------------------------------------
class ModelVersionInfo(BaseModel):
    version: str
    aliases: list[str] = Field(default_factory=list)
    status: str | None = None
    run_id: str | None = None
    created_at: datetime | None = None
    metrics: dict[str, float] = Field(default_factory=dict, description="Final metrics of the training run.")


class RegisteredModelInfo(BaseModel):
    name: str
    versions: list[ModelVersionInfo] = Field(default_factory=list, description="Newest first.")
    error: str | None = None


class ModelsResponse(BaseModel):
    models: list[RegisteredModelInfo]
    error: str | None = Field(default=None, description="Set when the registry could not be read at all.")


# ---- health ----------------------------------------------------------------------------------------
class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class CheckStatus(BaseModel):
    """The latest check of the served version: its validation before it was swapped in, then the re-check
    at each poll."""

    version: str
    passed: bool
    detail: str = Field(description="E.g. the scores on the version's stored validation sample and floors.")
    at: datetime


class ComponentStatus(BaseModel):
    """One hot-swappable component (the text model, the forecasts table)."""

    loaded: bool
    version: str | None = Field(default=None, description="What is being served.")
    source: Literal["registry", "cache", "file"] | None = Field(
        default=None, description="`cache`: the registry was unreachable; the last good local copy is served."
    )
    loaded_at: datetime | None = None
    last_check: datetime | None = None
    last_error: str | None = Field(default=None, description="Why the latest load or check failed.")
    failed_version: str | None = Field(default=None, description="The version that failed to load, if any.")
    check: CheckStatus | None = Field(
        default=None, description="The latest check of the served version; a failed one makes /readyz 503."
    )


class ReadinessResponse(BaseModel):
    status: Literal["ready", "not_ready"]
    text_model: ModelRef | None = None
    risk_model: ModelRef | None = Field(default=None, description="The model version of the forecasts table.")
    forecast_week: date | None = None
    missing: list[str] = Field(default_factory=list, description="What is not loaded, and why.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Served, but not as wanted: a failed reload, a cached model, stale forecasts.",
    )
    components: dict[str, ComponentStatus] = Field(default_factory=dict)


# ---- admin -------------------------------------------------------------------------------------------
class ReloadOutcome(BaseModel):
    component: str
    outcome: Literal["unchanged", "swapped", "failed"]
    version: str | None = Field(description="The version served after the reload.")
    previous_version: str | None = None
    error: str | None = None


class ReloadResponse(BaseModel):
    results: list[ReloadOutcome]


class WhoAmIResponse(BaseModel):
    key_id: str
    role: Literal["intake", "supervisor", "data_scientist"]


# ---- errors ------------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(examples=["validation_error"])
    message: str
    field: str | None = Field(
        default=None, description="The offending field, e.g. `items[3].text`, `grid_id`."
    )
    request_id: str | None = None
    details: list[ErrorDetail] | None = Field(default=None, description="All validation errors.")
    unknown_ids: list[str] | None = Field(default=None, description="Grid ids that do not exist.")
    available_weeks: list[str] | None = Field(
        default=None, description="The forecast weeks that are served, newest first."
    )
    valid_groups: list[str] | None = Field(
        default=None, description="The risk groups that are served (with `unknown_group`)."
    )


class ErrorResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "validation_error",
                        "message": "items[1].text: must not be empty or whitespace only",
                        "field": "items[1].text",
                        "request_id": "5f0c2f1e8b9a4d7c9e1a2b3c4d5e6f70",
                    }
                }
            ]
        }
    )

    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "The request is not valid UTF-8.",
        401: "No API key, or an invalid or revoked one.",
        403: "The key's role may not use this endpoint.",
        404: "Not found: unknown grid ids (listed in `unknown_ids`), an unknown week (`available_weeks`), "
        "a report id GridSense never took in (`unknown_report`).",
        409: "This feedback revision was recorded before with other content: send the next revision.",
        413: "Too many items, too much text, or evidence asked for too large a batch; the message says "
        "the limit.",
        422: "Invalid request; `field` names the offending field (an unknown risk group: `unknown_group`, "
        "listing the site's groups in `valid_groups`; a leaf or department not in the taxonomy: "
        "`invalid_feedback`).",
        429: "Too many requests with this API key; retry after the `Retry-After` header's seconds.",
        503: "The model or table this endpoint needs is not loaded.",
    }.items()
}
ERROR_RESPONSES[429]["headers"] = {
    "Retry-After": {"description": "Seconds until the key may call again.", "schema": {"type": "integer"}}
}
