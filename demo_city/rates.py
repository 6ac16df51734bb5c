"""What drives each leaf's event rate in the demo city: grid attributes, the calendar, the hour of day.

Works with any taxonomy. A leaf starts from its risk group's driver and adds every keyword driver whose
keywords occur in its L2 or L3 name (施工 -> weekdays and working hours; 燃气 -> winter; 积水 -> rainy
season ...). Leaves that match nothing keep their group's driver: a plain rate proportional to
population. Effects are log-rate coefficients; grid attributes are standardised first, so
``building_age: 0.4`` means +0.4 on the log rate per standard deviation of building age.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import holidays
import numpy as np
import polars as pl

from features.calendar import SPRING_FESTIVAL_DAY_NAME
from features.taxonomy import Leaf, Taxonomy

CHANNELS: tuple[str, ...] = ("hotline", "app", "grid_worker", "sensor")
GRID_EFFECTS: tuple[str, ...] = ("old_compound", "building_age", "commercial_density", "elderly_share")
SEASONS: tuple[str, ...] = (
    "summer", "winter", "rainy", "construction", "festival", "pre_festival", "admission",
)
TREND_PER_YEAR = 0.08  # reporting grows as the app spreads
HOLIDAY_FACTOR = 0.85  # public holidays: fewer reports on top of the day-off effect
GRID_WORKER_DAY_OFF = 0.25  # grid workers mostly patrol on workdays
SENSED_MIN_SHARE = 0.1  # sensor share of a leaf that has sensor alarm templates


@dataclass(frozen=True)
class Driver:
    keywords: tuple[str, ...] = ()
    effects: Mapping[str, float] = field(default_factory=dict)
    seasons: Mapping[str, float] = field(default_factory=dict)  # amplitude a: rate x (base + a * curve)
    base: float = 1.0  # off-season level; < 1 for leaves that barely occur outside their season
    day_off: float = 1.0  # rate multiplier on weekends and public holidays
    hours: str | None = None  # key of HOUR_PROFILES; the first matching keyword driver wins
    channels: tuple[float, float, float, float] | None = None  # hotline, app, grid_worker, sensor


GROUP_DRIVERS: dict[str, Driver] = {
    "dispute": Driver(
        effects={"old_compound": 0.3, "elderly_share": 0.1},
        seasons={"festival": 0.3},
        day_off=1.2,
        hours="waking",
        channels=(0.55, 0.25, 0.20, 0.0),
    ),
    "hazard": Driver(
        effects={"old_compound": 0.35, "building_age": 0.2},
        day_off=0.8,
        hours="office",
        channels=(0.33, 0.25, 0.40, 0.02),
    ),
    "none": Driver(
        effects={"commercial_density": 0.1}, day_off=0.7, hours="office", channels=(0.50, 0.32, 0.18, 0.0)
    ),
}

# Ordered: for hours and channels the first match wins, so specific drivers come first.
KEYWORD_DRIVERS: tuple[Driver, ...] = (
    Driver(("燃气泄漏", "烟感", "火灾报警"), channels=(0.35, 0.15, 0.15, 0.35), hours="allday"),
    Driver(
        ("积水", "内涝", "水位"),
        seasons={"rainy": 4.5},
        base=0.2,
        channels=(0.35, 0.25, 0.25, 0.15),
        hours="allday",
    ),
    Driver(("困人", "窨井", "井盖"), effects={"building_age": 0.3}, channels=(0.45, 0.20, 0.20, 0.15)),
    Driver(
        ("施工", "工地", "扬尘"),
        effects={"commercial_density": 0.2},
        seasons={"construction": 0.6, "festival": -0.8},
        day_off=0.45,
        hours="work",
    ),
    Driver(("咨询", "政策", "办理", "申请", "缴费", "公积金", "补贴"), channels=(0.75, 0.22, 0.03, 0.0)),
    Driver(("占道", "小广告", "乱堆", "私搭乱建", "乱停"), channels=(0.25, 0.25, 0.50, 0.0)),
    Driver(
        ("噪音", "噪声", "吵闹"),
        effects={"commercial_density": 0.3},
        seasons={"summer": 0.5},
        day_off=1.3,
        hours="night",
    ),
    Driver(
        ("占道", "摊", "小广告", "油烟", "餐饮", "经营", "无证", "价格", "虚假", "假冒", "食品", "消费",
         "预付卡"),
        effects={"commercial_density": 0.8},
        day_off=1.15,
        hours="evening",
    ),
    Driver(
        ("电动车", "充电", "飞线"),
        effects={"building_age": 0.2, "old_compound": 0.3},
        seasons={"winter": 0.2, "summer": 0.2},
        hours="evening",
    ),
    Driver(
        ("消防", "火灾", "液化气", "电线", "私拉", "用电安全"),
        effects={"building_age": 0.15, "old_compound": 0.3},
        seasons={"winter": 0.4},
    ),
    Driver(("供暖", "暖气"), seasons={"winter": 2.0}, base=0.3),
    Driver(("燃气",), seasons={"winter": 1.2}),
    Driver(
        ("危房", "承重", "老旧", "加装电梯", "漏水", "渗水", "下水道", "坠物", "房屋安全"),
        effects={"building_age": 0.35, "old_compound": 0.2},
    ),
    Driver(("防汛", "倒伏", "塌陷", "排水", "台风"), seasons={"rainy": 1.5}),
    Driver(("停电", "用电", "停水", "空调"), seasons={"summer": 0.9}),
    Driver(
        ("养老", "老年", "助餐", "赡养", "残疾", "低保", "救助", "医保", "社区卫生", "助残"),
        effects={"elderly_share": 0.6},
    ),
    Driver(
        ("托育", "学位", "入学", "招生", "培训机构", "学校"),
        effects={"elderly_share": -0.4},
        seasons={"admission": 1.0},
    ),
    Driver(("拖欠工资", "劳资", "工资", "劳动"), seasons={"pre_festival": 1.5, "festival": -0.5}),
    Driver(("盗窃", "诈骗", "可疑"), effects={"commercial_density": 0.3}, seasons={"festival": 0.3}),
    Driver(("群租",), effects={"old_compound": 0.6, "building_age": 0.2}),
    Driver(("停车", "拥堵", "单车", "信号灯", "公交", "出租车"), effects={"commercial_density": 0.5}),
    Driver(("垃圾",), seasons={"summer": 0.3, "festival": 0.4}),
    Driver(("异味", "废气", "污水", "河道"), seasons={"summer": 0.5}),
    Driver(("传染病", "疫苗"), seasons={"winter": 0.6}),
    Driver(("家庭", "婚姻", "继承", "烟花", "鞭炮"), seasons={"festival": 0.8}),
    Driver(("宅基地", "征收", "拆迁"), effects={"old_compound": 0.5}),
    Driver(("物业",), effects={"old_compound": 0.3, "building_age": 0.2}),
    Driver(("户口", "户籍", "身份证", "居住证", "证明"), seasons={"admission": 0.5}),
)

_H = np.arange(24)
HOUR_PROFILES: dict[str, np.ndarray] = {
    # relative report intensity by hour of day (0..23)
    "office": 0.1
    + np.exp(-(((_H - 10) / 2.0) ** 2))
    + 0.9 * np.exp(-(((_H - 15) / 2.0) ** 2))
    + 0.4 * np.exp(-(((_H - 20) / 2.0) ** 2)),
    "waking": 0.08 + np.exp(-(((_H - 10) / 3.0) ** 2)) + np.exp(-(((_H - 19) / 3.0) ** 2)),
    "work": 0.05 + np.exp(-(((_H - 12) / 3.5) ** 2)),
    "evening": 0.1 + 0.5 * np.exp(-(((_H - 12) / 3.0) ** 2)) + np.exp(-(((_H - 20) / 2.5) ** 2)),
    "night": 0.15 + 0.4 * np.exp(-(((_H - 14) / 4.0) ** 2)) + np.exp(-((((_H + 1) % 24 - 23) / 2.5) ** 2)),
    "allday": 0.6 + 0.4 * np.exp(-(((_H - 14) / 5.0) ** 2)),
}
CHANNEL_HOURS: np.ndarray = np.stack(
    [
        np.where((_H >= 7) & (_H <= 22), 1.0, 0.25),  # hotline: 24 h, quiet at night
        np.where(_H >= 7, 1.0, 0.35),  # app
        np.where((_H >= 8) & (_H <= 17), 1.0, 0.02),  # grid_worker: on shift
        np.ones(24),  # sensor
    ]
)


@dataclass(frozen=True)
class LeafRates:
    """Per-leaf rate components over a grid set and a day range (K leaves, G grids, D days)."""

    leaves: tuple[Leaf, ...]
    group: np.ndarray  # (K,) risk group name per leaf
    grid_weight: np.ndarray  # (G, K) relative rate of leaf k in grid g (includes population)
    day_weight: np.ndarray  # (D, K) calendar multiplier of leaf k on day d
    hour_profile: np.ndarray  # (K,) index into HOUR_PROFILE_NAMES
    channel_probs: np.ndarray  # (K, 4) channel mix
    day_off: np.ndarray  # (D,) bool: weekend or public holiday


HOUR_PROFILE_NAMES: tuple[str, ...] = tuple(HOUR_PROFILES)


def leaf_rates(
    taxonomy: Taxonomy,
    grids: pl.DataFrame,
    start: date,
    n_days: int,
    rng: np.random.Generator,
    sensed: Collection[str] | None = None,
) -> LeafRates:
    """``sensed``: leaf ids that sensors report (the ones with sensor alarm templates); None keeps every
    leaf's driver mix (sensors then report hazards and a few keyword leaves)."""
    drivers = [leaf_driver(leaf) for leaf in taxonomy.leaves]
    popularity = np.exp(rng.normal(0.0, 0.4, len(drivers)))  # some leaves are simply more common
    effects = np.array([[d.effects.get(name, 0.0) for name in GRID_EFFECTS] for d in drivers])
    exposure = grids["population"].to_numpy() / grids["population"].mean()
    grid_weight = exposure[:, None] * np.exp(grid_features(grids) @ effects.T) * popularity[None, :]
    calendar = day_calendar(start, n_days, rng)
    return LeafRates(
        leaves=taxonomy.leaves,
        group=np.array([leaf.risk_group for leaf in taxonomy.leaves]),
        grid_weight=grid_weight,
        day_weight=_day_weights(drivers, calendar),
        hour_profile=np.array([HOUR_PROFILE_NAMES.index(d.hours or "office") for d in drivers]),
        channel_probs=np.array(
            [
                d.channels if sensed is None else sensor_restricted(d.channels, leaf.id in sensed)
                for leaf, d in zip(taxonomy.leaves, drivers, strict=True)
            ]
        ),
        day_off=calendar["day_off"].astype(bool),
    )


def leaf_driver(leaf: Leaf) -> Driver:
    """The group driver plus every keyword driver matching the leaf's L2/L3 names."""
    names = f"{leaf.l2}/{leaf.l3}"
    group = GROUP_DRIVERS[leaf.risk_group]
    matched = [d for d in KEYWORD_DRIVERS if any(k in names for k in d.keywords)]
    effects = dict(group.effects)
    seasons = dict(group.seasons)
    day_off = group.day_off
    for driver in matched:
        for name, value in driver.effects.items():
            effects[name] = effects.get(name, 0.0) + value
        for name, value in driver.seasons.items():
            seasons[name] = seasons.get(name, 0.0) + value
        day_off *= driver.day_off
    return Driver(
        keywords=tuple(k for d in matched for k in d.keywords),
        effects=effects,
        seasons=seasons,
        day_off=day_off,
        base=min((d.base for d in matched), default=group.base),
        hours=next((d.hours for d in matched if d.hours), group.hours),
        channels=_channels(leaf, matched, group),
    )


def _channels(leaf: Leaf, matched: Sequence[Driver], group: Driver) -> tuple[float, float, float, float]:
    mix = next((d.channels for d in matched if d.channels), group.channels)
    assert mix is not None
    if leaf.risk_group != "hazard" and not any(d.channels for d in matched):
        mix = (*mix[:3], 0.0)  # sensors only report hazards
    total = sum(mix)
    return (mix[0] / total, mix[1] / total, mix[2] / total, mix[3] / total)


def sensor_restricted(
    mix: tuple[float, float, float, float] | None, sensed: bool
) -> tuple[float, float, float, float]:
    """The channel mix with a sensor share only for sensed leaves (at least SENSED_MIN_SHARE)."""
    assert mix is not None
    sensor = max(mix[3], SENSED_MIN_SHARE) if sensed else 0.0
    people = sum(mix[:3])
    scale = (1.0 - sensor) / people
    return (mix[0] * scale, mix[1] * scale, mix[2] * scale, sensor)


def grid_features(grids: pl.DataFrame) -> np.ndarray:
    """(G, len(GRID_EFFECTS)): old_compound as 0/1, the others standardised."""
    columns = []
    for name in GRID_EFFECTS:
        values = grids[name].cast(pl.Float64).to_numpy()
        if name != "old_compound":
            spread = values.std()
            values = (values - values.mean()) / (spread if spread > 0 else 1.0)
        columns.append(values)
    return np.column_stack(columns)


def day_calendar(start: date, n_days: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per day from ``start``: day_off, holiday, trend and the SEASONS curves (each in [0, 1]).

    ``rainy`` is weather, not just season: storm days (most in the plum-rain and typhoon season) hit
    the whole city at once.
    """
    days = [start + timedelta(days=i) for i in range(n_days)]
    years = range(start.year - 1, days[-1].year + 2)
    official = holidays.China(years=years, language="en_US")
    makeup_workdays = set(official.weekend_workdays)
    holiday = np.array([d in official for d in days])
    weekend = np.array([d.weekday() >= 5 and d not in makeup_workdays for d in days])
    doy = np.array([d.timetuple().tm_yday for d in days], dtype=float)
    festival_offset = _days_from_spring_festival(days, official)
    return {
        "day_off": holiday | weekend,
        "holiday": holiday,
        "trend": 1.0 + TREND_PER_YEAR * np.arange(n_days) / 365.25,
        "summer": _bump(doy, 205, 28),
        "winter": _bump(doy, 15, 30),
        "rainy": _rain(np.maximum(_bump(doy, 176, 16), 0.7 * _bump(doy, 235, 14)), rng),
        "construction": np.maximum(_bump(doy, 105, 35), _bump(doy, 290, 35)),
        "festival": np.exp(-0.5 * ((festival_offset - 3) / 5.0) ** 2),
        "pre_festival": np.clip((festival_offset + 40) / 35.0, 0, 1) * (festival_offset < 0),
        "admission": _bump(doy, 170, 35),
    }


def _day_weights(drivers: Sequence[Driver], calendar: Mapping[str, np.ndarray]) -> np.ndarray:
    amplitudes = np.array([[d.seasons.get(name, 0.0) for name in SEASONS] for d in drivers])  # (K, S)
    curves = np.column_stack([calendar[name] for name in SEASONS])  # (D, S)
    levels = np.array([d.base for d in drivers])
    seasonal = np.clip(levels[None, :] + curves @ amplitudes.T, 0.05, None)
    day_off_factor = np.array([d.day_off for d in drivers])
    weekly = np.where(calendar["day_off"][:, None], day_off_factor[None, :], 1.0)
    holiday = np.where(calendar["holiday"], HOLIDAY_FACTOR, 1.0)
    return seasonal * weekly * (holiday * calendar["trend"])[:, None]


def _rain(season: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    storm = rng.random(season.size) < 0.03 + 0.35 * season
    return np.clip(0.3 * season + storm, 0.0, 1.0)


def _bump(day_of_year: np.ndarray, centre: float, width: float) -> np.ndarray:
    distance = np.abs(day_of_year - centre)
    distance = np.minimum(distance, 365.25 - distance)
    return np.exp(-0.5 * (distance / width) ** 2)


def _days_from_spring_festival(days: Sequence[date], official: holidays.HolidayBase) -> np.ndarray:
    """Signed days to the nearest lunar New Year's Day."""
    named = sorted(official.get_named(SPRING_FESTIVAL_DAY_NAME, lookup="exact"))
    firsts = [d for i, d in enumerate(named) if i == 0 or d.year != named[i - 1].year]
    ordinals = np.array([d.toordinal() for d in days], dtype=float)
    if not firsts:  # outside the years the holidays package knows
        return np.full(len(days), 1000.0)
    offsets = ordinals[:, None] - np.array([f.toordinal() for f in firsts], dtype=float)[None, :]
    return offsets[np.arange(len(days)), np.abs(offsets).argmin(axis=1)]
