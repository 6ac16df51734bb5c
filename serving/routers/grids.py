"""Grid geometry, weekly activity and recent reports: what a supervisor needs next to the forecasts.

Read from the dashboard tables (`serving.grid_store`); the supervisor dashboard calls these like any
other client.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from core.keys import Role
from serving.auth import KeyFirstRoute, Permission, Principal, authenticate, require
from serving.deps import AuditDep, SettingsDep
from serving.errors import ForbiddenError
from serving.grid_schemas import (
    GridActivityResponse,
    GridReportsResponse,
    GridsResponse,
    GridWeeklyResponse,
)
from serving.grid_store import GridStore, GridStoreLoader, read_raw_texts
from serving.schemas import ERROR_RESPONSES, ModelRef
from serving.unicode_text import CleanStr

router = APIRouter(
    prefix="/v1/grids",
    tags=["grids"],
    dependencies=[require(Permission.DASHBOARD)],
    route_class=KeyFirstRoute,
)

RAW_TEXT_ROLE = Role.DATA_SCIENTIST  # personal data is kept from everyone else (docs/OPERATIONS.md)
GridIdPath = Annotated[CleanStr, Path(description="A grid id.", examples=["G0001"], max_length=128)]


def get_grid_store(request: Request, settings: SettingsDep) -> GridStore:
    """The dashboard tables, loaded on first use and reloaded when the batch step rewrites them.

    This dependency and the routes are plain `def`: FastAPI runs them in its thread pool, so loading the
    tables and building an index the first time never blocks the event loop."""
    loader: GridStoreLoader | None = getattr(request.app.state, "grid_store_loader", None)
    wanted = (settings.dashboard_tables_dir, settings.site_timezone)
    if loader is None or (loader.path, loader.timezone) != wanted:
        loader = GridStoreLoader(*wanted)
        request.app.state.grid_store_loader = loader
    return loader.current()


GridStoreDep = Annotated[GridStore, Depends(get_grid_store)]


@router.get(
    "",
    summary="All grids with their map geometry",
    description=(
        "Every grid with its district, community, position in metres (`x_m`, `y_m`), lat/lon when known, "
        "a map polygon (one cell per grid, in the same metres) and its static attributes."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403, 503)},
)
def grids(store: GridStoreDep) -> GridsResponse:
    return GridsResponse(
        forecast_week=store.forecast_week,
        weeks=store.weeks,
        groups=store.groups,
        built_at=store.meta.get("built_at"),
        grids=store.grids,
    )


@router.get(
    "/weekly",
    summary="Events of each risk group and all events per grid, week by week",
    description=(
        "What actually happened in every grid over the latest `weeks` weeks, oldest week first: per risk "
        "group of the site in `groups` (the demo's `dispute` and `hazard` also as top-level keys, "
        "deprecated) and in all (`total`)."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403, 422, 503)},
)
def weekly(
    store: GridStoreDep, weeks: Annotated[int, Query(ge=1, le=104, description="How many weeks.")] = 8
) -> GridWeeklyResponse:
    return GridWeeklyResponse(**store.weekly_counts(weeks))


@router.get(
    "/{grid_id}/activity",
    summary="A grid's weekly events by first-level category over the last year",
    responses={status: ERROR_RESPONSES[status] for status in (401, 403, 404, 422, 503)},
)
def activity(store: GridStoreDep, grid_id: GridIdPath) -> GridActivityResponse:
    return GridActivityResponse(**store.activity(grid_id))


@router.get(
    "/{grid_id}/reports",
    summary="A grid's most recent reports, classified and PII-redacted",
    description=(
        "The latest reports of the grid with the category, department and confidence the text model gave "
        "them. Personal data (names, ID, phone, card, passport, QQ and WeChat numbers, e-mail, licence "
        "plates) is redacted. `raw=true` gives the titles and texts as written: data_scientist keys only "
        "(403 otherwise), only when the batch step kept them (404 otherwise), and every such read is "
        "recorded in the audit log."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403, 404, 422, 503)},
)
def reports(
    store: GridStoreDep,
    grid_id: GridIdPath,
    principal: Annotated[Principal, Depends(authenticate)],
    audit: AuditDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=50, description="At most this many reports.")] = 10,
    raw: Annotated[
        bool, Query(description="Titles and texts as written, unredacted (data_scientist keys only).")
    ] = False,
) -> GridReportsResponse:
    raw_texts = None
    if raw:
        if principal.role is not RAW_TEXT_ROLE:
            raise ForbiddenError(f"only {RAW_TEXT_ROLE.value} keys may read unredacted reports", field="raw")
        raw_texts = read_raw_texts(settings.dashboard_tables_dir)
        audit.record("read_raw_reports", actor=f"key:{principal.key_id}", grid_id=grid_id, limit=limit)
    model = store.text_model
    return GridReportsResponse(
        grid_id=grid_id,
        model=ModelRef(**model) if model else None,
        redacted=raw_texts is None,
        reports=store.reports(grid_id, limit, raw_texts),
    )
