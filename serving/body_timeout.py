"""A deadline for the request body: a client that promises a body (Content-Length, chunked) and then sends
it slowly or not at all gets a 408 in the error envelope and the connection is closed.

The deadline counts from the moment the app gets the request (its head is complete) and applies only
while the body is incomplete: once the last body chunk is in, later `receive()` calls (a response
waiting for a disconnect) are not timed. A route that never reads its body is not held up by it: the
request-head timeout of `serving.protocol` closes the connection if the rest never comes.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import RequestTimeoutError


class BodyTimeoutMiddleware:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        complete = False

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.0))
            except TimeoutError:
                raise RequestTimeoutError(
                    f"request body not received within {self.seconds:g} s", field="body"
                ) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)
