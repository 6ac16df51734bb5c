"""The window of plausible event times that every event loader applies.

A report dated 1700-01-01 (a typo) or next year (a broken clock) is not evidence of anything, and left in
it stretches the grid x week panel over centuries. Loaders reject rows outside the window with a reason.
Default: from 2000-01-01 to one day after the time of loading (report times are local, China is UTC+8,
and the loading machine's clock may not be).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

DEFAULT_NOT_BEFORE = date(2000, 1, 1)
FUTURE_SLACK = timedelta(days=1)


@dataclass(frozen=True)
class DateWindow:
    """Event times must lie in ``[not_before, not_after]``; ``None`` leaves that side open."""

    not_before: datetime | None
    not_after: datetime | None

    @classmethod
    def default(
        cls, not_before: date | datetime | None = DEFAULT_NOT_BEFORE, now: datetime | None = None
    ) -> DateWindow:
        """``not_before`` (default 2000-01-01) up to ``now`` (default: the clock) plus one day."""
        return cls(_as_datetime(not_before), (now or datetime.now()) + FUTURE_SLACK)

    @classmethod
    def unbounded(cls) -> DateWindow:
        return cls(None, None)

    def violations(self, column: pl.Expr, name: str) -> dict[str, pl.Expr]:
        """Reject reason -> condition (never null) for the times in ``column`` outside the window."""
        checks = {}
        if self.not_before is not None:
            checks[f"{name} before {self.not_before:%Y-%m-%d}"] = column < pl.lit(self.not_before)
        if self.not_after is not None:
            checks[f"{name} after {self.not_after:%Y-%m-%d %H:%M}"] = column > pl.lit(self.not_after)
        return {reason: condition.fill_null(False) for reason, condition in checks.items()}


def _as_datetime(day: date | datetime | None) -> datetime | None:
    if day is None or isinstance(day, datetime):
        return day
    return datetime(day.year, day.month, day.day)
