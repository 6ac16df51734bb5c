"""Per-API-key rate limits (the `limits` library): each role has its own limits, counted per key.

Limits are written in the `limits` notation, several separated by ';' ("20/second;600/minute"); an empty
string means no limit. The moving-window strategy counts the requests of the last second (minute...)
exactly. With the default `memory://` storage each worker process counts on its own, so a client
spread over N workers may get up to N times the limit; a `redis://` storage URI shares exact counts.

A request over a limit is refused with 429 `rate_limited` and a `Retry-After` header (whole seconds
until the window has room again).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from core.keys import Role
from core.settings import Settings
from serving.errors import ApiError


class RateLimitedError(ApiError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, limit: RateLimitItem, retry_after: int) -> None:
        super().__init__(f"rate limit of this API key exceeded ({limit}); retry after {retry_after} s")
        self.headers = {"Retry-After": str(retry_after)}


class RateLimiter:
    """`check(key_id, role)` counts one request of that key, or raises RateLimitedError."""

    def __init__(self, limits_by_role: Mapping[Role, str], storage_uri: str = "memory://") -> None:
        self.limits = {role: _parse(text) for role, text in limits_by_role.items()}
        # built at once, so a storage that cannot work (no Redis client installed) stops the start-up
        self._limiter = (
            MovingWindowRateLimiter(storage_from_string(storage_uri)) if any(self.limits.values()) else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """Parses the limits at once, so a typo stops the server at start-up."""
        return cls(
            {
                Role.INTAKE: settings.rate_limit_intake,
                Role.SUPERVISOR: settings.rate_limit_supervisor,
                Role.DATA_SCIENTIST: settings.rate_limit_data_scientist,
            },
            settings.rate_limit_storage_uri,
        )

    async def check(self, key_id: str, role: Role) -> None:
        items = self.limits.get(role, ())
        limiter = self._limiter
        if not items or limiter is None:
            return
        if isinstance(limiter.storage, MemoryStorage):  # microseconds: no thread needed
            refused = self._hit(limiter, items, key_id)
        else:  # a network round trip: keep it off the event loop
            refused = await run_in_threadpool(self._hit, limiter, items, key_id)
        if refused is not None:
            raise RateLimitedError(*refused)

    @staticmethod
    def _hit(
        limiter: MovingWindowRateLimiter, items: tuple[RateLimitItem, ...], key_id: str
    ) -> tuple[RateLimitItem, int] | None:
        """Count the request against every limit if all have room; else the first full one and the
        seconds until it has room (nothing is counted then)."""
        for item in items:
            if not limiter.test(item, key_id):
                reset_at, _ = limiter.get_window_stats(item, key_id)
                return item, max(1, math.ceil(reset_at - time.time()))
        for item in items:
            limiter.hit(item, key_id)
        return None


def _parse(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text)) if text.strip() else ()


async def enforce_rate_limit(request: Request, key_id: str, role: Role) -> None:
    """Called by `serving.auth.require` once the key is known (apps built without a limiter pass)."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        await limiter.check(key_id, role)
