from __future__ import annotations

from fastapi import APIRouter, Response

from serving.auth import KeyFirstRoute, Permission, require
from serving.deps import MetricsDep
from serving.schemas import ERROR_RESPONSES

router = APIRouter(tags=["metrics"], dependencies=[require(Permission.METRICS)], route_class=KeyFirstRoute)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Prometheus text format. Scrape with a data_scientist key as a bearer token.",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format.",
        },
        **{status: ERROR_RESPONSES[status] for status in (401, 403)},
    },
)
async def metrics(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type=metrics.content_type)
