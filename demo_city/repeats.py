"""Repeat reports of the demo city: one incident reported again, by the same or other residents, through
other channels, hours to weeks later (the plan counts 45% of reports as such duplicates).

Rates: with ``duplicate_share`` d and ``invalid_share`` v of all reports, an incident gets on average
m = d / (1 - d - v) repeats. Repeats per incident are Poisson(lambda) with lambda ~ Gamma(shape
``DISPERSION``, mean m): most incidents are reported once, a few many times (a burst is a hot issue).
Delays are exponential (mean ``DELAY_HOURS``, at a time of day drawn like the reports');
``LONG_DELAY_SHARE`` of repeats come days to weeks later (the same problem, still unsolved).
Repeats that would fall after the log ends are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DUPLICATE_SHARE = 0.45
INVALID_SHARE = 0.23
DISPERSION = 0.6
DELAY_HOURS = 30.0
MIN_DELAY_SECONDS = 600
LONG_DELAY_SHARE = 0.08
LONG_DELAY_DAYS = (3.0, 21.0)
SAME_CHANNEL_SHARE = 0.4
SAME_REPORTER_SHARE = 0.3
OTHER_CHANNELS = ("hotline", "app", "grid_worker")
OTHER_CHANNEL_SHARES = (0.45, 0.4, 0.15)
RESIDENTS_PER_GRID = 400
# Sentences a repeat report may end with; the late ones are used only in the last part of the period.
REPEAT_SENTENCES = (
    "之前已经反映过一次了",
    "前几天就打过电话",
    "这是第二次反映了",
    "到现在还没人处理",
    "上次反映后没有下文",
    "我们好几户都反映过",
    "再次反映这个问题",
)
LATE_REPEAT_SENTENCES = ("上回说的就是这个事", "同一个问题重复反映", "已经催过好几次了", "怎么还没人来看")
REPEAT_SENTENCE_SHARE = 0.3


def check_shares(duplicate_share: float, invalid_share: float) -> None:
    if not (0.0 <= duplicate_share < 1.0 and 0.0 <= invalid_share < 1.0):
        raise ValueError("duplicate_share and invalid_share must be in [0, 1)")
    if duplicate_share + invalid_share >= 0.95:
        raise ValueError("duplicate_share + invalid_share must stay below 0.95 (some reports are new)")


def mean_repeats(duplicate_share: float, invalid_share: float) -> float:
    """Expected repeat reports per incident for the given shares of all reports."""
    check_shares(duplicate_share, invalid_share)
    return duplicate_share / (1.0 - duplicate_share - invalid_share)


def invalid_count(n_valid: int, invalid_share: float) -> int:
    """Invalid reports to add to ``n_valid`` valid ones so that they are ``invalid_share`` of all."""
    return round(n_valid * invalid_share / (1.0 - invalid_share))


@dataclass(frozen=True)
class Repeats:
    incident: np.ndarray  # index of the repeated incident
    seconds: np.ndarray  # when the repeat was reported
    channel: np.ndarray  # channel name
    same_reporter: np.ndarray  # bool: the first reporter again


def plan_repeats(
    seconds: np.ndarray,
    channel: np.ndarray,
    end_seconds: int,
    rng: np.random.Generator,
    duplicate_share: float = DUPLICATE_SHARE,
    invalid_share: float = INVALID_SHARE,
) -> Repeats:
    """Repeats of incidents reported at ``seconds`` through ``channel`` (arrays, one per incident)."""
    mean = mean_repeats(duplicate_share, invalid_share)
    n = len(seconds)
    rate = rng.gamma(DISPERSION, mean / DISPERSION, n) if mean > 0 else np.zeros(n)
    incident = np.repeat(np.arange(n), rng.poisson(rate))
    k = len(incident)
    days = np.floor(rng.exponential(DELAY_HOURS / 24.0, k))
    long = rng.random(k) < LONG_DELAY_SHARE
    days[long] = np.floor(rng.uniform(*LONG_DELAY_DAYS, int(long.sum())))
    when = daytime(seconds[incident], days.astype(np.int64), seconds, rng)
    original = channel[incident]
    other = np.array(OTHER_CHANNELS)[rng.choice(len(OTHER_CHANNELS), k, p=OTHER_CHANNEL_SHARES)]
    keep_channel = (original == "sensor") | (rng.random(k) < SAME_CHANNEL_SHARE)
    repeat_channel = np.where(keep_channel, original, other)
    same = (repeat_channel == original) & (rng.random(k) < SAME_REPORTER_SHARE)
    inside = when < end_seconds
    return Repeats(incident[inside], when[inside], repeat_channel[inside], same[inside])


def daytime(
    seconds: np.ndarray, days: np.ndarray, profile: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``days`` whole days after ``seconds``, at a time of day drawn from ``profile`` (reports' times), and
    at least ``MIN_DELAY_SECONDS`` after ``seconds``: a later report keeps the daily rhythm of reports."""
    if not len(seconds):
        return seconds.astype(np.int64)
    time_of_day = profile[rng.integers(0, len(profile), len(seconds))] % 86_400
    when = (seconds // 86_400 + days) * 86_400 + time_of_day
    return np.where(when < seconds + MIN_DELAY_SECONDS, when + 86_400, when).astype(np.int64)


def reporter_ids(grid: np.ndarray, channel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A reporter per report: a resident of the grid, its grid worker, or its sensor platform."""
    resident = rng.integers(0, RESIDENTS_PER_GRID, len(grid))
    ids = [
        f"W{g:04d}" if c == "grid_worker" else f"S{g:04d}" if c == "sensor" else f"R{g:04d}{r:03d}"
        for g, c, r in zip(grid.tolist(), channel.tolist(), resident.tolist(), strict=True)
    ]
    return np.array(ids, dtype=object)
