from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from serving.auth import KeyFirstRoute, Permission, require
from serving.deps import ForecastStoreDep
from serving.headers import set_model_headers
from serving.schemas import (
    ERROR_RESPONSES,
    IsoDate,
    RiskHistoryResponse,
    RiskResponse,
)
from serving.unicode_text import CleanStr

GroupQuery = Annotated[
    CleanStr | None,
    Query(
        max_length=64,
        description="Only this risk group: one of the site's group ids (`GET /v1/site`; the demo city: "
        "`dispute`, `hazard`). Another is 422 `unknown_group`, listing the valid ones.",
        examples=["dispute"],
    ),
]

router = APIRouter(
    prefix="/v1", tags=["risk"], dependencies=[require(Permission.RISK)], route_class=KeyFirstRoute
)


@router.get(
    "/risk",
    summary="Grid risk forecasts for the coming week",
    description=(
        "Probability that each grid sees at least one event of each of the site's risk groups (the demo "
        "city: dispute 矛盾纠纷 and hazard 安全隐患) in the latest forecast week, with the expected number "
        "of events and the risk relative to the city's mean when the forecaster records them, its rank "
        "among all grids, its level (高/中/低), the top 3 drivers in the site's language and the trend over "
        "the last 8 forecasts. `scorers` says which scorer answers for each group (the risk model, a "
        "history baseline or a blend, chosen on the site's backtest). Without `grid_id`, all grids, best "
        "rank first. "
        "`contributions=true` adds every SHAP contribution. `week=` serves a past week from the forecast "
        "history (weekly `gridsense forecast` runs, else the champion's out-of-sample backtest): the same "
        "fields, with the trend up to that week, but no drivers or contributions. `available_weeks` lists "
        "the weeks served."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (400, 401, 403, 404, 422, 503)},
)
async def risk(
    store: ForecastStoreDep,
    response: Response,
    grid_id: Annotated[
        list[CleanStr] | None,
        Query(description="Grid ids (repeat the parameter); default: all grids.", examples=["G0001"]),
    ] = None,
    group: GroupQuery = None,
    top: Annotated[int | None, Query(ge=1, description="Only grids ranked 1..top within each group.")] = None,
    week: Annotated[
        IsoDate | None,
        Query(
            description="Forecast week (its Monday, YYYY-MM-DD), one of `available_weeks`; default: the "
            "latest. Another week is 404 `unknown_week`, listing the available weeks."
        ),
    ] = None,
    contributions: Annotated[
        bool, Query(description="Include all SHAP contributions per grid and group (large).")
    ] = False,
) -> RiskResponse:
    store.check_group(group)
    served = week or store.latest_week()
    grids = store.get(grid_ids=grid_id, group=group, top=top, week=served)  # UnknownWeekError: 404
    if not contributions:
        grids = [{**grid, "risks": [{**r, "contributions": None} for r in grid["risks"]]} for grid in grids]
    model = store.model_of(served)
    set_model_headers(response, model)
    return RiskResponse(
        model=model,
        week_start=served,
        available_weeks=list(store.available_weeks),
        groups=list(store.groups),
        scorers=store.scorers_of(served),
        group=group,
        top=top,
        grids=grids,
    )


@router.get(
    "/risk/{grid_id}/history",
    summary="Past forecasts of a grid next to what happened",
    description=(
        "Every stored forecast of the grid (weekly `gridsense forecast` runs, and the out-of-sample backtest "
        "weeks of the champion's training run), oldest first, with the events that actually happened "
        "(`actual_count`, null until the week is over and loaded)."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403, 404, 422, 503)},
)
async def risk_history(
    store: ForecastStoreDep,
    response: Response,
    grid_id: Annotated[CleanStr, Path(description="A grid id.", max_length=128)],
    group: GroupQuery = None,
    weeks: Annotated[int, Query(ge=1, le=520, description="The last N forecast weeks.")] = 26,
) -> RiskHistoryResponse:
    store.check_group(group)
    history = store.history_of(grid_id, group=group, weeks=weeks)
    set_model_headers(response, store.model)
    return RiskHistoryResponse(
        grid_id=grid_id, district=store.district_of(grid_id), group=group, history=history
    )
