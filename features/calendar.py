"""Week helpers and the public-holiday calendar for the grid x week panel.

A week starts on Monday and is identified by that Monday as a ``pl.Date``. Holidays come
from the ``holidays`` package. China (the default, ``"CN"``) uses ``holidays.China``, which ships
the State Council's yearly schedule, including substituted days off (调休) and the weekend days that
become workdays, and adds the Spring Festival columns. Any other ISO country code (``"SE"``, ``"US"``)
gives the generic ``holiday_days`` / ``days_off`` pair; ``None`` gives no holiday columns.
Holidays of a future week are published in advance, so they are legitimate features of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

import holidays
import polars as pl

WEEK = timedelta(days=7)
SPRING_FESTIVAL_NAME = "Chinese New Year"  # en_US names: "Chinese New Year (Spring Festival)", "... Eve"
SPRING_FESTIVAL_DAY_NAME = "Chinese New Year (Spring Festival)"
SPRING_FESTIVAL_HORIZON_WEEKS = 26  # weeks_from_spring_festival is clipped to +-this


def week_start(expr: pl.Expr) -> pl.Expr:
    """Monday of the week of a Date or Datetime expression, as ``pl.Date``."""
    return expr.dt.truncate("1w").cast(pl.Date)


def monday(day: date | datetime) -> date:
    """Monday of the week containing ``day``."""
    if isinstance(day, datetime):
        day = day.date()
    return day - timedelta(days=day.weekday())


def week_range(first_week: date, last_week: date) -> pl.Series:
    """Mondays from ``first_week`` to ``last_week`` inclusive, as a ``week_start`` Date series."""
    return pl.date_range(monday(first_week), monday(last_week), "1w", eager=True).alias("week_start")


def calendar_features(
    weeks: Iterable[date] | pl.Series, country: str | None = "CN", categories: Sequence[str] | None = None
) -> pl.DataFrame:
    """Per week_start: week_of_year, month, annual sin/cos phase and the holiday columns of ``country``.

    ``categories`` selects the ``holidays`` categories of a non-Chinese calendar (default: the country's
    defaults; Sweden's ``("public", "de_facto")`` adds Midsummer, Christmas and New Year's Eve).
    """
    frame = _weeks_frame(weeks)
    phase = 2 * math.pi * (pl.col("week_start").dt.ordinal_day() - 1) / 365.25
    seasonal = frame.with_columns(
        pl.col("week_start").dt.week().cast(pl.Int8).alias("week_of_year"),
        pl.col("week_start").dt.month().cast(pl.Int8).alias("month"),
        phase.sin().cast(pl.Float32).alias("year_sin"),
        phase.cos().cast(pl.Float32).alias("year_cos"),
    )
    if country is None:
        return seasonal.sort("week_start")
    if country.upper() in ("CN", "CHN", "CHINA"):
        holiday_table = holiday_days_per_week(frame["week_start"])
    else:
        holiday_table = country_holiday_days_per_week(frame["week_start"], country, categories)
    return seasonal.join(holiday_table, on="week_start", how="left").sort("week_start")


def country_holiday_days_per_week(
    weeks: Iterable[date] | pl.Series, country: str, categories: Sequence[str] | None = None
) -> pl.DataFrame:
    """Per week_start, from ``holidays.country_holidays(country)``: ``holiday_days`` (days of the week
    that are holidays, weekends included) and ``days_off`` (weekend days plus weekday holidays, 0..7).
    Sundays are never counted as holidays in themselves (Sweden's calendar lists them by default)."""
    frame = _weeks_frame(weeks)
    if frame.is_empty():
        return frame.with_columns(*(pl.lit(0, pl.Int8).alias(c) for c in ("holiday_days", "days_off")))
    years = range(frame["week_start"].min().year - 1, (frame["week_start"].max() + WEEK).year + 2)
    options = {"categories": tuple(categories)} if categories else {}
    if country.upper() in ("SE", "SWE", "SWEDEN"):
        options["include_sundays"] = False
    calendar = holidays.country_holidays(country, years=years, **options)
    holiday_table = pl.DataFrame({"day": sorted(calendar.keys())}, schema={"day": pl.Date}).with_columns(
        pl.lit(True).alias("is_holiday")
    )
    days = _days_of_weeks(frame).join(holiday_table, on="day", how="left")
    weekend = pl.col("day").dt.weekday() >= 6
    holiday = pl.col("is_holiday").fill_null(False)
    per_week = days.group_by("week_start").agg(
        holiday.sum().cast(pl.Int8).alias("holiday_days"),
        (holiday | weekend).sum().cast(pl.Int8).alias("days_off"),
    )
    return frame.join(per_week, on="week_start", how="left").sort("week_start")


def holiday_days_per_week(weeks: Iterable[date] | pl.Series) -> pl.DataFrame:
    """Per week_start, from the official Chinese holiday schedule:

    * ``holiday_days``: days of the week that are public holidays or substituted days off;
    * ``days_off``: holidays plus weekend days that are not make-up workdays (0..7);
    * ``spring_festival_week``: 1 if the week overlaps the Spring Festival holiday;
    * ``weeks_from_spring_festival``: signed weeks from the week of lunar New Year's Day,
      clipped to +-26 (migration home before and back after the festival).
    """
    frame = _weeks_frame(weeks)
    if frame.is_empty():
        return frame.with_columns(
            *(pl.lit(0, pl.Int8).alias(c) for c in ("holiday_days", "days_off", "spring_festival_week")),
            pl.lit(0, pl.Int8).alias("weeks_from_spring_festival"),
        )
    first_year = frame["week_start"].min().year
    last_year = (frame["week_start"].max() + WEEK).year
    calendar = holidays.China(years=range(first_year - 1, last_year + 2), language="en_US")
    days = _days_of_weeks(frame).join(_day_table(calendar), on="day", how="left")
    per_week = days.group_by("week_start").agg(
        pl.col("is_holiday").fill_null(False).sum().cast(pl.Int8).alias("holiday_days"),
        _is_day_off().sum().cast(pl.Int8).alias("days_off"),
        pl.col("is_spring_festival").fill_null(False).any().cast(pl.Int8).alias("spring_festival_week"),
    )
    return (
        frame.join(per_week, on="week_start", how="left")
        .join(_weeks_from_spring_festival(frame, calendar), on="week_start", how="left")
        .sort("week_start")
    )


def _weeks_frame(weeks: Iterable[date] | pl.Series) -> pl.DataFrame:
    series = weeks if isinstance(weeks, pl.Series) else pl.Series(list(weeks), dtype=pl.Date)
    frame = pl.DataFrame({"week_start": series.cast(pl.Date)})
    return frame.select(week_start(pl.col("week_start"))).unique().sort("week_start")


def _days_of_weeks(frame: pl.DataFrame) -> pl.DataFrame:
    day = pl.date_ranges(pl.col("week_start"), pl.col("week_start") + pl.duration(days=6), "1d")
    return frame.with_columns(day.alias("day")).explode("day")


def _day_table(calendar: holidays.HolidayBase) -> pl.DataFrame:
    """One row per calendar day that deviates from the plain Mon-Fri week (tiny: ~30 a year)."""
    holiday_days = pl.DataFrame(
        {
            "day": list(calendar.keys()),
            "is_spring_festival": [SPRING_FESTIVAL_NAME in name for name in calendar.values()],
        },
        schema={"day": pl.Date, "is_spring_festival": pl.Boolean},
    ).with_columns(pl.lit(True).alias("is_holiday"))
    workdays = pl.DataFrame({"day": sorted(calendar.weekend_workdays)}, schema={"day": pl.Date})
    return holiday_days.join(
        workdays.with_columns(pl.lit(True).alias("is_makeup_workday")), on="day", how="full", coalesce=True
    )


def _is_day_off() -> pl.Expr:
    weekend = pl.col("day").dt.weekday() >= 6
    makeup = pl.col("is_makeup_workday").fill_null(False)
    return pl.col("is_holiday").fill_null(False) | (weekend & ~makeup)


def _weeks_from_spring_festival(frame: pl.DataFrame, calendar: holidays.HolidayBase) -> pl.DataFrame:
    new_years_days = pl.DataFrame(
        {"day": calendar.get_named(SPRING_FESTIVAL_DAY_NAME, lookup="exact")}, schema={"day": pl.Date}
    )
    festival_weeks = (
        new_years_days.group_by(pl.col("day").dt.year().alias("year"))
        .agg(pl.col("day").min())
        .select(week_start(pl.col("day")).alias("festival_week"))
        .sort("festival_week")
    )
    nearest = frame.join_asof(
        festival_weeks, left_on="week_start", right_on="festival_week", strategy="nearest"
    )
    weeks = (pl.col("week_start") - pl.col("festival_week")).dt.total_days() // 7
    horizon = SPRING_FESTIVAL_HORIZON_WEEKS
    return nearest.select(
        "week_start",
        weeks.clip(-horizon, horizon).fill_null(horizon).cast(pl.Int8).alias("weeks_from_spring_festival"),
    )
