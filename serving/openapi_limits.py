"""The request limits in the OpenAPI document, taken from the same Settings the service enforces them with.

The text and batch limits are settings (GRIDSENSE_MAX_TEXT_CHARS, GRIDSENSE_MAX_BATCH), checked by
`serving.text_service` with a 413 naming the field, not by the request models: so the generated schema
did not know them. Here they are written into the document of the running app: `maxLength` on `text`
and `title` (unless GRIDSENSE_LONG_TEXT=truncate, when longer text is cut and classified, not refused)
and `maxItems` on `items`. That the text must not be blank is stated by the model itself
(serving.schemas.ReportText).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from core.settings import Settings


def document_limits(app: FastAPI, settings: Settings) -> None:
    """Wrap `app.openapi` so the document it builds (once, then cached by FastAPI) states the limits."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_limits(build(), settings)
        return app.openapi_schema  # type: ignore[return-value]  # set by build()

    app.openapi = openapi  # type: ignore[method-assign]


def add_limits(document: dict[str, Any], settings: Settings) -> None:
    schemas = document["components"]["schemas"]
    item, batch = schemas["ClassifyItem"]["properties"], schemas["BatchClassifyRequest"]["properties"]
    batch["items"]["maxItems"] = settings.max_batch
    for name in ("text", "title"):
        if settings.long_text == "reject":
            _string_branch(item[name])["maxLength"] = settings.max_text_chars
        else:
            item[name]["description"] = (
                f"{item[name].get('description', '')} Over {settings.max_text_chars} characters, only the "
                "start is classified and the result says `truncated: true`."
            ).strip()


def _string_branch(schema: dict[str, Any]) -> dict[str, Any]:
    """The `{"type": "string"}` part of a property, also inside `anyOf` (an optional string)."""
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "string":
            return branch
    return schema
