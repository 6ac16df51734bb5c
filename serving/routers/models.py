from __future__ import annotations

from fastapi import APIRouter

from serving.deps import RegistryDep
from serving.schemas import ModelsResponse

router = APIRouter(prefix="/v1", tags=["models"])


@router.get(
    "/models",
    summary="Registered models",
    description=(
        "Versions of the text and risk models in the MLflow registry, newest first, with their aliases "
        "(`champion` is the one served) and the metrics of the training run. Registry problems are "
        "reported in `error` fields, never as a failure of this endpoint."
    ),
)
def list_models(registry: RegistryDep) -> ModelsResponse:
    return registry.describe()
