"""The HTTP protocol `gridsense serve` runs: uvicorn's httptools protocol with four changes.

- **TCP_NODELAY on every connection.** With `--workers N > 1`, uvicorn binds the shared socket as
  `socket.socket(AF_INET)` (protocol 0), so asyncio does not set TCP_NODELAY on accepted connections. A
  response written in two parts (headers, body) then waits for the client's delayed ACK: ~40 ms per
  request (measured 44 ms p50 at concurrency 1 with 2 workers, 0.6 ms with 1).
- **A request-head timeout.** uvicorn's only timeout is keep-alive, which it never arms on a new
  connection and cancels at the first byte received, so a client that connected and sent nothing, or half
  its headers, held a connection for ever. Here the request line and headers must be complete within
  `header_timeout_seconds` of the connection (or of the previous response); a client that started a
  request then gets a 408, and the connection is closed. The body has its own deadline in the app
  (`serving.body_timeout`).
- **The protocol's own refusals in the API's error envelope.** A malformed request line or header, a bad
  or duplicate Content-Length, Content-Length with chunked encoding, a broken chunk: uvicorn answered
  these with a plain-text "Invalid HTTP request received."; here they are a JSON 400 naming the parser's
  reason, like every other error.
- **A limit on the request head.** httptools buffers a request line and headers of any size (500 MB in
  1.5 s on loopback, held in memory): over `max_header_bytes` the client gets a 431 and is disconnected.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import uuid
from functools import cache
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from core.settings import Settings
from serving.errors import error_body
from serving.request_id import REQUEST_ID_HEADER


@cache
def _settings() -> Settings:
    """Read once per worker process, from the same GRIDSENSE_* variables as the app."""
    return Settings()


class GridSenseHTTPProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _settings()
        self.header_timeout = settings.header_timeout_seconds
        self.max_head_bytes = settings.max_header_bytes
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False  # a request head has begun and is not complete yet
        self._head_received = 0  # bytes read while the head is incomplete
        self._head_size = 0  # bytes of the request line and headers parsed so far

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _set_nodelay(transport)
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._head_started or self.transport.is_closing():
            return
        self._head_received += len(data)  # httptools buffers a header line until it ends: bound it here
        if self._head_received > self.max_head_bytes:
            self._send_head_too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = True
        self._head_received = self._head_size = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        self._head_started = False
        if self._head_size > self.max_head_bytes:
            raise _HeadTooLargeError  # stops the parser; uvicorn then calls send_400_response
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # armed by uvicorn: it now waits for a request
            self._arm_head_timer()

    def send_400_response(self, msg: str) -> None:
        """Called by uvicorn inside its `except httptools.HttpParserError` block."""
        error = sys.exception()
        if isinstance(error and error.__context__, _HeadTooLargeError):
            self._send_head_too_large()
            return
        reason = f": {error}" if _is_parser_reason(error) else ""
        self._send_error(400, "bad_request", f"malformed HTTP request{reason}")

    def _send_head_too_large(self) -> None:
        message = f"request line and headers over {self.max_head_bytes} bytes"
        self._send_error(431, "headers_too_large", message)

    # ---- the head timer ------------------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_started = False
        if self.header_timeout > 0:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_started:
            message = f"request line and headers not received within {self.header_timeout:g} s"
            self._send_error(408, "request_timeout", message)
        else:  # nothing started (an idle connection, or the unread rest of a body): just close
            self.transport.close()

    def _send_error(self, status: int, code: str, message: str) -> None:
        request_id = uuid.uuid4().hex
        body = json.dumps(error_body(code, message, request_id=request_id), ensure_ascii=False).encode()
        headers = [
            *self.server_state.default_headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (REQUEST_ID_HEADER.lower().encode("ascii"), request_id.encode("ascii")),
            (b"connection", b"close"),
        ]
        head = b"".join([STATUS_LINE[status], *(name + b": " + value + b"\r\n" for name, value in headers)])
        self.transport.write(head + b"\r\n" + body)
        self.transport.close()


class _HeadTooLargeError(Exception):
    pass


def _is_parser_reason(error: BaseException | None) -> bool:
    """llhttp's reasons are fixed texts ("Invalid character in Content-Length"); a callback error's text
    is ours and could quote the request, so it is not echoed."""
    return isinstance(error, httptools.HttpParserError) and not isinstance(
        error, httptools.HttpParserCallbackError
    )


def _set_nodelay(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
