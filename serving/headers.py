"""Response headers naming the model version that produced an answer."""

from __future__ import annotations

from fastapi import Response

from serving.schemas import ModelRef

MODEL_NAME_HEADER = "X-Model-Name"
MODEL_VERSION_HEADER = "X-Model-Version"


def set_model_headers(response: Response, model: ModelRef) -> None:
    response.headers[MODEL_NAME_HEADER] = model.name
    response.headers[MODEL_VERSION_HEADER] = model.version or "unknown"
