from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from serving.auth import KeyFirstRoute, Permission, Principal, require
from serving.deps import AuditDep, ResourcesDep
from serving.schemas import ERROR_RESPONSES, ReloadOutcome, ReloadResponse, WhoAmIResponse

router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=KeyFirstRoute)

AdminDep = Annotated[Principal, require(Permission.ADMIN)]


@router.post(
    "/reload",
    summary="Reload models now",
    description=(
        "Checks the registry alias of the text model and the forecasts file at once instead of waiting "
        "for the next poll. A new version is loaded beside the served one and smoke-tested before it "
        "replaces it; if it fails, the served version stays and the failure is reported here and in "
        "/readyz. With several workers, the worker answering reloads now and the others at their next poll."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403)},
)
async def reload(principal: AdminDep, resources: ResourcesDep, audit: AuditDep) -> ReloadResponse:
    events = await run_in_threadpool(resources.refresh, "admin")
    results = [
        ReloadOutcome(
            component=event.component,
            outcome=event.outcome,
            version=event.version,
            previous_version=event.previous_version,
            error=event.error,
        )
        for event in events
    ]
    audit.record(
        "reload",
        actor=f"key:{principal.key_id}",
        outcome="failed" if any(r.outcome == "failed" for r in results) else "ok",
        results=[result.model_dump() for result in results],
    )
    return ReloadResponse(results=results)


@router.get(
    "/whoami",
    summary="Check a data_scientist key",
    description=(
        "200 with the key's id and role when the key may use admin endpoints, else 401/403. A reverse "
        "proxy can use it to put other tools (the MLflow server) behind the same keys (docs/OPERATIONS.md)."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403)},
)
async def whoami(principal: AdminDep) -> WhoAmIResponse:
    return WhoAmIResponse(key_id=principal.key_id, role=principal.role.value)
