from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from serving.auth import KeyFirstRoute, Permission, require
from serving.deps import RegistryDep
from serving.schemas import ERROR_RESPONSES, ModelsResponse

router = APIRouter(
    prefix="/v1", tags=["models"], dependencies=[require(Permission.MODELS)], route_class=KeyFirstRoute
)


@router.get(
    "/models",
    summary="Registered models",
    description=(
        "Versions of the text and risk models in the MLflow registry, newest first, with their aliases "
        "(`champion` is the one served) and the metrics of the training run. Registry problems are "
        "reported in `error` fields, never as a failure of this endpoint."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403)},
)
async def list_models(registry: RegistryDep) -> ModelsResponse:
    return await run_in_threadpool(registry.describe)  # reads the registry database
