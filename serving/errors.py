"""One error envelope for every non-2xx answer: {"error": {"code", "message", "field", "request_id", ...}}.

Domain code raises `ApiError` subclasses; the handlers here turn them, FastAPI's validation errors,
Starlette's HTTP errors and anything unexpected into that envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.request_id import REQUEST_ID_HEADER, request_id_of
from serving.schemas import BODY_VARIANT_TAGS, ErrorBody, ErrorDetail

logger = logging.getLogger(__name__)

_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "not_ready",
}


class ApiError(Exception):
    """An error the client can act on; `status_code` and `code` end up in the envelope."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra
        self.headers: dict[str, str] = {}  # e.g. Retry-After on a 429


class UnknownGridError(ApiError):
    status_code = 404
    code = "unknown_grid"

    def __init__(self, grid_ids: Sequence[str]) -> None:
        super().__init__(
            f"unknown grid_id(s): {', '.join(grid_ids)}", field="grid_id", unknown_ids=list(grid_ids)
        )


class UnknownReportError(ApiError):
    status_code = 404
    code = "unknown_report"


class RevisionConflictError(ApiError):
    status_code = 409
    code = "revision_conflict"


class InvalidFeedbackError(ApiError):
    """Feedback that names something the site does not have (a leaf, a department, a report)."""

    status_code = 422
    code = "invalid_feedback"


class PayloadTooLargeError(ApiError):
    status_code = 413
    code = "payload_too_large"


class NotReadyError(ApiError):
    status_code = 503
    code = "not_ready"


class BodyTooLargeError(Exception):
    """Raised while the body streams in, past the limit (serving.validation.BodyLimitMiddleware)."""


class UnauthorizedError(ApiError):
    status_code = 401
    code = "unauthorized"


class ForbiddenError(ApiError):
    status_code = 403
    code = "forbidden"


class UnknownWeekError(ApiError):
    status_code = 404
    code = "unknown_week"


class RequestTimeoutError(ApiError):
    """The client did not send the whole request in time (serving.body_timeout, serving.protocol)."""

    status_code = 408
    code = "request_timeout"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field)
        self.headers = {"Connection": "close"}  # the rest of the request may still come: do not reuse


class InvalidEncodingError(ApiError):
    status_code = 400
    code = "invalid_encoding"


def field_name(loc: Sequence[str | int]) -> str:
    """('body', 'batch', 'items', 2, 'text') -> 'items[2].text'; a bare ('body',) -> 'body'."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    if parts and parts[0] in BODY_VARIANT_TAGS:
        parts = parts[1:]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def error_response(
    request: Request, status_code: int, code: str, message: str, field: str | None = None, **extra: Any
) -> JSONResponse:
    request_id = request_id_of(request)
    payload = error_body(code, message, field, request_id, **extra)
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return JSONResponse(payload, status_code=status_code, headers=headers)


def error_body(
    code: str, message: str, field: str | None = None, request_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The envelope as a JSON-ready dict; also written by the HTTP protocol itself (serving.protocol)."""
    error = ErrorBody(code=code, message=message, field=field, request_id=request_id, **extra)
    # `field` is always present (null when the error is not about one field); other empty keys are dropped
    body = {
        key: value
        for key, value in error.model_dump(mode="json").items()
        if value is not None or key == "field"
    }
    return {"error": body}


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    response = error_response(request, exc.status_code, exc.code, exc.message, exc.field, **exc.extra)
    response.headers.update(exc.headers)
    if exc.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gridsense"'
    return response


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = [_detail(error) for error in exc.errors()]
    first = details[0] if details else ErrorDetail(field="body", message="invalid request")
    message = first.message if first.field == "body" else f"{first.field}: {first.message}"
    return error_response(request, 422, "validation_error", message, first.field, details=details)


def _detail(error: dict[str, Any]) -> ErrorDetail:
    kind = error.get("type")
    if kind == "json_invalid":  # loc is ('body', <character position>)
        position = error["loc"][-1]
        reason = error.get("ctx", {}).get("error", "decode error")
        return ErrorDetail(
            field="body", message=f"request body is not valid JSON ({reason} at character {position})"
        )
    field = field_name(error["loc"])
    if field == "body" and kind == "missing":
        return ErrorDetail(field=field, message="request body is required")
    if field == "body" and kind in ("model_type", "model_attributes_type", "dict_type"):
        return ErrorDetail(field=field, message="request body must be a JSON object")
    return ErrorDetail(
        field=field, message=str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    cause = exc.__cause__  # FastAPI answers "error parsing the body" for any failure reading it
    if isinstance(cause, UnicodeDecodeError):
        return await _api_error(request, invalid_utf8("body", cause))
    if isinstance(cause, BodyTooLargeError):
        return await _api_error(request, PayloadTooLargeError(str(cause), field="body"))
    if isinstance(cause, ApiError):  # raised while the body streamed in (a timeout)
        return await _api_error(request, cause)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    response = error_response(request, exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def invalid_utf8(field: str, error: UnicodeDecodeError) -> InvalidEncodingError:
    byte = error.object[error.start : error.start + 1].hex()
    return InvalidEncodingError(
        f"{field} is not valid UTF-8 (byte 0x{byte} at position {error.start})", field=field
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception(
        "unhandled error on %s %s (request %s)", request.method, request.url.path, request_id_of(request)
    )
    return error_response(
        request, 500, "internal_error", "internal server error; quote the request_id when reporting it"
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
