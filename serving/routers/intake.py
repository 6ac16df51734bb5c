from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from serving.auth import KeyFirstRoute, Permission, require
from serving.deps import MetricsDep, RunnerDep, SettingsDep, TextModelDep
from serving.errors import PayloadTooLargeError
from serving.headers import set_model_headers
from serving.intake_schemas import BatchIntakeRequest, IntakeItem, IntakeRequest, IntakeResponse
from serving.intake_service import IntakeService
from serving.schemas import ERROR_RESPONSES, EXAMPLE_TEXT, EXAMPLE_TITLE, BatchClassifyRequest

router = APIRouter(
    prefix="/v1", tags=["classify"], dependencies=[require(Permission.CLASSIFY)], route_class=KeyFirstRoute
)

_BUILD_LOCK = asyncio.Lock()


async def get_intake_service(request: Request, settings: SettingsDep) -> IntakeService:
    """Built on the first intake call of this worker (opens the store, reads the grids table)."""
    service = getattr(request.app.state, "intake", None)
    if service is None:
        async with _BUILD_LOCK:
            service = getattr(request.app.state, "intake", None)
            if service is None:
                service = await run_in_threadpool(IntakeService.from_settings, settings)
                request.app.state.intake = service
    return service


IntakeDep = Annotated[IntakeService, Depends(get_intake_service)]

BODY_EXAMPLES = {
    "single": {
        "summary": "One report in a grid",
        "value": {"id": "E20261201-0001", "title": EXAMPLE_TITLE, "text": EXAMPLE_TEXT, "grid_id": "G0001"},
    },
    "place": {
        "summary": "No grid: a named place",
        "value": {"text": "阳光花园小区东门垃圾三天没人清运，臭气熏天。", "place": "阳光花园小区"},
    },
    "batch": {
        "summary": "A batch",
        "value": {
            "items": [
                {"id": "a", "text": EXAMPLE_TEXT, "grid_id": "G0001"},
                {"id": "b", "text": "3号楼又有人半夜装修，电钻声吵得老人睡不着。", "grid_id": "G0001"},
            ]
        },
    },
}


@router.post(
    "/intake",
    summary="Take in reports: classify, find earlier duplicates, flag invalid ones, store",
    description=(
        "For each report: the classification `/v1/classify` gives; the earlier reports of the last "
        "`GRIDSENSE_DUPLICATE_WINDOW_DAYS` days (default 7) in the same or a neighbouring grid, or, "
        "without a grid, naming the same place, that describe the same problem, with their ids and scores "
        "and a decision `duplicate` (merge) / `related` / `new` at thresholds chosen on labelled pairs "
        "(`duplicate_model`); the invalid-report model's verdict when one is registered "
        "(`gridsense-invalid`); then the report is stored (PII redacted) for later searches. A report "
        "with no text, no grid and no place, or an unknown grid gets its answer with `duplicates.skipped` "
        "saying why no search was made; a missing or locked store answers with "
        "`skipped: store_unavailable` and `stored: spooled` (kept, stored later; /readyz warns). "
        "Send one report or `items`."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (400, 401, 403, 413, 422, 503)},
)
async def intake(
    body: Annotated[IntakeRequest, Body(openapi_examples=BODY_EXAMPLES)],
    service: TextModelDep,
    intake_service: IntakeDep,
    runner: RunnerDep,
    metrics: MetricsDep,
    response: Response,
) -> IntakeResponse:
    items: list[IntakeItem] = body.items if isinstance(body, BatchIntakeRequest) else [body]
    if len(items) > service.max_batch:
        raise PayloadTooLargeError(
            f"{len(items)} items; at most {service.max_batch} per request", field="items"
        )
    ids = intake_service.ids(items)
    to_classify = [
        classify_item
        for item, item_id in zip(items, ids, strict=True)
        if (classify_item := IntakeService.classify_item(item, item_id)) is not None
    ]
    classified = {}
    if to_classify:
        prepared = service.prepare(BatchClassifyRequest(items=to_classify))
        results = await runner.predict(service, prepared)
        metrics.observe_predictions(service.model.version, results)
        classified = {result.id: result for result in results}
    texts = {item.id: item.text for item in prepared} if classified else {}
    outcome = await run_in_threadpool(intake_service.take_in, items, ids, classified, service, texts)
    set_model_headers(response, service.model)
    return IntakeResponse(
        model=service.model, duplicate_model=intake_service.duplicate_model, results=outcome
    )
