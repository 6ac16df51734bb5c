"""Request checks that apply to every route."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import BodyTooLargeError, error_response, invalid_utf8


async def check_query_encoding(request: Request) -> None:
    """A query parameter whose percent-decoded bytes are not UTF-8 is a 400 naming it (Starlette would
    silently turn the bytes into U+FFFD and the request would fail further on, less clearly)."""
    raw: bytes = request.scope.get("query_string", b"")
    if b"%" not in raw:  # raw query bytes are ASCII; only percent-escapes can carry invalid UTF-8
        return
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        for part, label in ((name, "query parameter name"), (value, None)):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError as exc:
                field = label or unquote_to_bytes(name).decode("utf-8", errors="replace")
                raise invalid_utf8(field, exc) from exc


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes` with the JSON error envelope: at once when Content-Length says
    so, else as soon as the streamed bytes pass the limit (so a huge body is never held in memory)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = error_response(Request(scope), 413, "payload_too_large", self._message(), field="body")
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self._message())
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"request body too large: at most {self.max_bytes} bytes"
