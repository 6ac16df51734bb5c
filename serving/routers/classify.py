from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from serving.deps import TextModelDep
from serving.schemas import (
    ERROR_RESPONSES,
    EXAMPLE_TEXT,
    EXAMPLE_TITLE,
    ClassifyRequest,
    ClassifyResponse,
)

router = APIRouter(prefix="/v1", tags=["classify"])

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
        "names the handling department and risk group, lists the top alternatives and flags uncertain "
        "predictions for review. Send either one report (`title`, `text`) or a batch (`items`)."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (413, 422, 503)},
)
def classify(
    body: Annotated[ClassifyRequest, Body(openapi_examples=BODY_EXAMPLES)], service: TextModelDep
) -> ClassifyResponse:
    return ClassifyResponse(model=service.model, results=service.classify_request(body))
