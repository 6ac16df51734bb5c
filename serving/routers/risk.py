from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from serving.deps import ForecastStoreDep
from serving.schemas import ERROR_RESPONSES, RiskGroupName, RiskResponse

router = APIRouter(prefix="/v1", tags=["risk"])


@router.get(
    "/risk",
    summary="Grid risk forecasts for the coming week",
    description=(
        "Probability that each grid sees at least one dispute (矛盾纠纷) or hazard (安全隐患) event in the "
        "latest forecast week, with its rank among all grids. Without `grid_id`, all grids, best rank first."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (404, 422, 503)},
)
def risk(
    store: ForecastStoreDep,
    grid_id: Annotated[
        list[str] | None,
        Query(description="Grid ids (repeat the parameter); default: all grids.", examples=["G0001"]),
    ] = None,
    group: Annotated[RiskGroupName | None, Query(description="Only this risk group.")] = None,
    top: Annotated[int | None, Query(ge=1, description="Only grids ranked 1..top within each group.")] = None,
) -> RiskResponse:
    grids = store.get(grid_ids=grid_id, group=group, top=top)
    return RiskResponse(week_start=store.latest_week(), group=group, top=top, grids=grids)
