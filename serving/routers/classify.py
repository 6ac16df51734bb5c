from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from serving.auth import KeyFirstRoute, Permission, require
from serving.deps import MetricsDep, RunnerDep, TextModelDep
from serving.drift_gauges import DriftDep
from serving.headers import set_model_headers
from serving.schemas import (
    ERROR_RESPONSES,
    EXAMPLE_TEXT,
    EXAMPLE_TITLE,
    ClassifyRequest,
    ClassifyResponse,
)

router = APIRouter(
    prefix="/v1", tags=["classify"], dependencies=[require(Permission.CLASSIFY)], route_class=KeyFirstRoute
)

BODY_EXAMPLES = {
    "single": {
        "summary": "One report",
        "value": {"title": EXAMPLE_TITLE, "text": EXAMPLE_TEXT},
    },
    "batch": {
        "summary": "A batch of reports",
        "value": {
            "items": [
                {"id": "E20261101-0001", "title": EXAMPLE_TITLE, "text": EXAMPLE_TEXT},
                {
                    "id": "E20261101-0002",
                    "text": "小区东门人行道井盖松动翘起，晚上有老人差点绊倒，存在安全隐患。",
                },
            ]
        },
    },
}


@router.post(
    "/classify",
    summary="Classify event reports",
    description=(
        "Assigns each report to a leaf of the three-level event taxonomy (L1/L2/L3 with probabilities), "
        "names the handling department and risk group, lists the top alternatives and every leaf above the "
        "label threshold (`labels`: compound reports get several), and flags uncertain predictions for "
        "review. `evidence=true` adds the phrases that drove each decision (by occlusion: up to 25 "
        "extra predictions per report). Send either one report (`title`, `text`) or a batch (`items`)."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (400, 401, 403, 413, 422, 503)},
)
async def classify(
    body: Annotated[ClassifyRequest, Body(openapi_examples=BODY_EXAMPLES)],
    service: TextModelDep,
    runner: RunnerDep,
    metrics: MetricsDep,
    drift: DriftDep,
    response: Response,
    evidence: Annotated[
        bool, Query(description="Also return the phrases that drove each decision (slower).")
    ] = False,
) -> ClassifyResponse:
    items = service.prepare(body, evidence)  # limits checked on the loop: cheap, and no thread for a 413
    results = await runner.predict(service, items)  # the model runs off the event loop
    metrics.observe_predictions(service.model.version, results)
    drift.observe(service.classifier, [item.text for item in items], results)  # live drift gauges
    set_model_headers(response, service.model)
    return ClassifyResponse(model=service.model, results=results)
