"""Why a grid's risk is what it is: the top drivers of a forecast, in Chinese or English for people.

Drivers come from LightGBM's SHAP values (``RiskForecaster.contributions``, on the booster's raw scale:
log-odds or log expected count). The ``k`` features with the largest absolute contribution are the
drivers; each is rendered from the row's own point-in-time values, e.g. ``cnt_dispute_4w = 12`` with
``cnt_dispute_52w = 52`` becomes "近4周矛盾纠纷12起，为近一年周均的3倍" (``language="en"``: "12 disputes in
the past 4 weeks, 3 times the weekly average of the past year"). ``direction`` says whether it raises
(``up``) or lowers (``down``) the risk. The raw contributions are kept as JSON next to the text.

Risk groups are the site's own ids (any number): their names come from ``group_labels`` (group id ->
name in the language, e.g. ``Taxonomy.group_labels(language)``), else the defaults of ``dispute`` and
``hazard``, else the id. The caller passes the language and the names; nothing here reads settings.

Rendering is per driver (k per forecast row) because each sentence reads other columns of its row;
the selection of drivers is vectorised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

GROUP_NAMES: dict[str, str] = {"dispute": "矛盾纠纷", "hazard": "安全隐患", "all": "各类事件"}
GROUP_NAMES_EN: dict[str, str] = {"dispute": "disputes", "hazard": "safety hazards", "all": "events"}
LANGUAGES = ("zh", "en")
BIAS = "bias"
STATIC_TEXT: dict[str, Callable[[float], str]] = {
    "population": lambda v: f"常住人口约{v:,.0f}人",
    "households": lambda v: f"约{v:,.0f}户",
    "elderly_share": lambda v: f"老年人口占比{v:.0%}",
    "building_age": lambda v: f"房屋平均楼龄约{v:.0f}年",
    "commercial_density": lambda v: f"商业密度{v:.2f}",
    "old_compound": lambda v: "老旧小区" if v >= 0.5 else "非老旧小区",
}
STATIC_TEXT_EN: dict[str, Callable[[float], str]] = {
    "population": lambda v: f"about {v:,.0f} residents",
    "households": lambda v: f"about {v:,.0f} households",
    "elderly_share": lambda v: f"{v:.0%} of residents elderly",
    "building_age": lambda v: f"buildings about {v:.0f} years old on average",
    "commercial_density": lambda v: f"commercial density {v:.2f}",
    "old_compound": lambda v: (
        "an old residential compound" if v >= 0.5 else "not an old residential compound"
    ),
}


@dataclass(frozen=True)
class Driver:
    feature: str
    value: float | None
    contribution: float
    direction: str  # "up" raises the risk, "down" lowers it
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


def top_drivers(
    contributions: np.ndarray,
    feature_names: Sequence[str],
    rows: pl.DataFrame,
    k: int = 3,
    labels: Mapping[str, str] | None = None,
    *,
    language: str = "zh",
    group_labels: Mapping[str, str] | None = None,
) -> list[list[Driver]]:
    """Per row, the ``k`` features with the largest |contribution| (bias column excluded), largest first.

    ``contributions``: (n_rows, n_features [+ 1 bias]); ``rows``: the same rows with the feature columns
    (values for the texts); ``labels``: column -> category name for category / text-category counts;
    ``language``: zh | en of the texts; ``group_labels``: risk group id -> its name in that language.
    """
    values = np.asarray(contributions, dtype=float)[:, : len(feature_names)]
    if values.shape[0] != rows.height:
        raise ValueError(f"{values.shape[0]} contribution rows for {rows.height} panel rows")
    k = min(k, len(feature_names))
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    context = rows.select([c for c in rows.columns if c in set(feature_names)]).to_dicts()
    drivers = []
    for i, picked in enumerate(order):
        row = context[i]
        drivers.append(
            [
                Driver(
                    feature=feature_names[j],
                    value=_number(row.get(feature_names[j])),
                    contribution=float(values[i, j]),
                    direction="up" if values[i, j] >= 0 else "down",
                    text=describe(
                        feature_names[j], row, labels, language=language, group_labels=group_labels
                    ),
                )
                for j in picked
                if values[i, j] != 0
            ]
        )
    return drivers


def drivers_text(drivers: Sequence[Driver], language: str = "zh") -> str:
    """One line for a table cell: the sentences joined by "；" ("; " in English), lowering ones marked."""
    if language == "en":
        return "; ".join(d.text + (" (lowers the risk)" if d.direction == "down" else "") for d in drivers)
    return "；".join(d.text + ("（降低风险）" if d.direction == "down" else "") for d in drivers)


def contributions_json(contributions: np.ndarray, feature_names: Sequence[str], digits: int = 4) -> list[str]:
    """Per row, ``{feature: contribution, ..., "bias": b}`` as JSON, zero contributions left out."""
    values = np.round(np.asarray(contributions, dtype=float), digits)
    names = [*feature_names, BIAS][: values.shape[1]]
    return [
        json.dumps({name: float(v) for name, v in zip(names, row, strict=True) if v != 0 or name == BIAS})
        for row in values
    ]


# ---- sentences ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    labels: Mapping[str, str]  # panel column -> category name (category and text-category counts)
    language: str
    group_labels: Mapping[str, str]

    def group(self, group: str) -> str:
        """A risk group's name in the sentence's language (English names in lower case mid-sentence)."""
        name = self.group_labels.get(group)
        if self.language == "en":
            return _lower_first(name) if name else GROUP_NAMES_EN.get(group, group)
        return name or GROUP_NAMES.get(group, group)

    def pair(self, pair: str) -> tuple[str, str]:
        """``a_b`` of a co-occurrence column split into two group ids (known ids preferred)."""
        known = {*self.group_labels, *GROUP_NAMES}
        splits = [(pair[:i], pair[i + 1 :]) for i, char in enumerate(pair) if char == "_"]
        return next(
            (s for s in splits if s[0] in known and s[1] in known), splits[0] if splits else (pair, "")
        )


def describe(
    feature: str,
    row: Mapping[str, object],
    labels: Mapping[str, str] | None = None,
    *,
    language: str = "zh",
    group_labels: Mapping[str, str] | None = None,
) -> str:
    """A short sentence for one feature of one row, in ``language`` (zh | en)."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    english = language == "en"
    value = _number(row.get(feature))
    if value is None:
        return f"{feature} missing" if english else f"{feature}缺失"
    context = _Context(labels or {}, language, group_labels or {})
    for pattern, render_zh, render_en in _RULES:
        match = pattern.fullmatch(feature)
        if match:
            return (render_en if english else render_zh)(match, value, row, context)
    static = STATIC_TEXT_EN if english else STATIC_TEXT
    if feature in static:
        return static[feature](value)
    return f"{feature}={value:g}"


Render = Callable[[re.Match, float, Mapping, _Context], str]


def _count_window(match: re.Match, value: float, row: Mapping, ctx: _Context) -> str:
    group, weeks = match["group"], int(match["weeks"])
    name = ctx.group(group)
    if weeks == 52:
        return f"近一年{name}{value:.0f}起，周均{value / 52:.1f}起"
    head = f"上周{name}{value:.0f}起" if weeks == 1 else f"近{weeks}周{name}{value:.0f}起"
    yearly = _number(row.get(f"cnt_{group}_52w"))
    if yearly and value:
        return f"{head}，为近一年周均的{_times((value / weeks) / (yearly / 52))}倍"
    if yearly == 0 and value:
        return f"{head}，此前一年没有"
    return head


def _count_window_en(match: re.Match, value: float, row: Mapping, ctx: _Context) -> str:
    group, weeks = match["group"], int(match["weeks"])
    name = ctx.group(group)
    if weeks == 52:
        return f"{value:.0f} {name} in the past year, {value / 52:.1f} a week"
    head = f"{value:.0f} {name} {_window_phrase_en(weeks)}"
    yearly = _number(row.get(f"cnt_{group}_52w"))
    if yearly and value:
        return f"{head}, {_times((value / weeks) / (yearly / 52))} times the weekly average of the past year"
    if yearly == 0 and value:
        return f"{head}, none in the year before"
    return head


def _weeks_since(match: re.Match, value: float, row: Mapping, ctx: _Context) -> str:
    name = ctx.group(match["group"])
    if value >= 104:
        return f"近两年未发生{name}"
    if value <= 1:
        return f"上周发生过{name}"
    return f"距上次{name}已{value:.0f}周"


def _weeks_since_en(match: re.Match, value: float, row: Mapping, ctx: _Context) -> str:
    name = ctx.group(match["group"])
    if value >= 104:
        return f"no {name} in two years"
    if value <= 1:
        return f"{name} last week"
    return f"{value:.0f} weeks since the last {name}"


def _co_occurrence(match: re.Match, value: float, row: Mapping, ctx: _Context) -> str:
    a, b = (ctx.group(group) for group in ctx.pair(match["pair"]))
    return f"近{match['weeks']}周中有{value:.0f}周{a}与{b}同时发生"


def _co_occurrence_en(match: re.Match, value: float, row: Mapping, ctx: _Context) -> str:
    a, b = (ctx.group(group) for group in ctx.pair(match["pair"]))
    return f"{a} and {b} in the same week in {value:.0f} of the past {match['weeks']} weeks"


def _signed(amount: float, more: str = "多", less: str = "少") -> str:
    return f"{more if amount >= 0 else less}{abs(amount):.1f}"


def _signed_en(amount: float, more: str = "more", less: str = "fewer") -> str:
    return f"{abs(amount):.1f} {more if amount >= 0 else less}"


# (pattern, Chinese, English); the first pattern that matches the whole column name renders it
_RULES: list[tuple[re.Pattern, Render, Render]] = [
    (re.compile(r"cnt_(?!l1_|txt_)(?P<group>\w+?)_(?P<weeks>\d+)w"), _count_window, _count_window_en),
    (re.compile(r"weeks_since_(?P<group>\w+)"), _weeks_since, _weeks_since_en),
    (
        re.compile(r"trend_(?P<group>\w+)"),
        lambda m, v, row, c: f"{c.group(m['group'])}近4周周均比近一年周均{_signed(v)}起",
        lambda m, v, row, c: (
            f"{_upper_first(c.group(m['group']))}: {_signed_en(v)} a week in the past 4 weeks "
            "than in the past year"
        ),
    ),
    (
        re.compile(r"log_history_weeks"),
        lambda m, v, row, c: f"已有{v:.0f}周历史记录",
        lambda m, v, row, c: f"{v:.0f} weeks of history",
    ),
    (
        re.compile(r"ewm_(?P<group>\w+?)_h(?P<h>[\d.]+)"),
        lambda m, v, row, c: f"{c.group(m['group'])}加权周均{v:.2f}起（半衰期{m['h']}周）",
        lambda m, v, row, c: (
            f"{_upper_first(c.group(m['group']))}: weighted weekly average {v:.2f} (half-life {m['h']} weeks)"
        ),
    ),
    (
        re.compile(r"excite_(?P<group>\w+)"),
        lambda m, v, row, c: (
            f"{c.group(m['group'])}近期周均比长期{_signed(v, '高', '低')}起"
            + ("，近期有聚集" if v > 0 else "")
        ),
        lambda m, v, row, c: (
            f"{_upper_first(c.group(m['group']))}: recent weekly average {_signed_en(v, 'above', 'below')} "
            f"the long-run one" + (", a recent cluster" if v > 0 else "")
        ),
    ),
    (
        re.compile(r"mean_(?P<group>\w+?)_all"),
        lambda m, v, row, c: f"有记录以来{c.group(m['group'])}周均{v:.2f}起",
        lambda m, v, row, c: f"{_upper_first(c.group(m['group']))}: {v:.2f} a week since records began",
    ),
    (
        re.compile(r"season_(?P<group>\w+?)_ly(?P<weeks>\d+)w"),
        lambda m, v, row, c: f"去年同期前后{m['weeks']}周{c.group(m['group'])}{v:.0f}起",
        lambda m, v, row, c: (
            f"{v:.0f} {c.group(m['group'])} in the {m['weeks']} weeks around this week last year"
        ),
    ),
    (
        re.compile(r"nbr_(?P<group>\w+?)_(?P<weeks>\d+)w_sum"),
        lambda m, v, row, c: f"相邻网格近{m['weeks']}周{c.group(m['group'])}{v:.0f}起",
        lambda m, v, row, c: (
            f"{v:.0f} {c.group(m['group'])} in neighbouring grids {_window_phrase_en(int(m['weeks']))}"
        ),
    ),
    (
        re.compile(r"nbr_(?P<group>\w+?)_(?P<weeks>\d+)w_mean"),
        lambda m, v, row, c: f"相邻网格近{m['weeks']}周{c.group(m['group'])}平均每格{v:.1f}起",
        lambda m, v, row, c: (
            f"{v:.1f} {c.group(m['group'])} per neighbouring grid {_window_phrase_en(int(m['weeks']))}"
        ),
    ),
    (
        re.compile(r"nbr_(?P<group>\w+?)_h(?P<h>[\d.]+)_mean"),
        lambda m, v, row, c: f"相邻网格{c.group(m['group'])}加权周均每格{v:.2f}起",
        lambda m, v, row, c: (
            f"{_upper_first(c.group(m['group']))} in neighbouring grids: {v:.2f} a week per grid"
        ),
    ),
    (
        re.compile(r"nbrw_(?P<group>\w+?)_h(?P<h>[\d.]+)_mean"),
        lambda m, v, row, c: f"周边较大范围{c.group(m['group'])}加权周均每格{v:.2f}起",
        lambda m, v, row, c: (
            f"{_upper_first(c.group(m['group']))} in the wider area: {v:.2f} a week per grid"
        ),
    ),
    (
        re.compile(r"parent_(?P<group>\w+?)_(?P<weeks>\d+)w"),
        lambda m, v, row, c: f"所在片区{_window_phrase(int(m['weeks']))}{c.group(m['group'])}{v:.0f}起",
        lambda m, v, row, c: (
            f"{v:.0f} {c.group(m['group'])} in the district {_window_phrase_en(int(m['weeks']))}"
        ),
    ),
    (
        re.compile(r"parent_(?P<group>\w+?)_(?P<weeks>\d+)w_per_unit"),
        lambda m, v, row, c: (
            f"所在片区{_window_phrase(int(m['weeks']))}{c.group(m['group'])}平均每格{v:.1f}起"
        ),
        lambda m, v, row, c: (
            f"{v:.1f} {c.group(m['group'])} per grid in the district {_window_phrase_en(int(m['weeks']))}"
        ),
    ),
    (
        re.compile(r"parent_(?P<group>\w+?)_h(?P<h>[\d.]+)_per_unit"),
        lambda m, v, row, c: f"所在片区{c.group(m['group'])}加权周均每格{v:.2f}起",
        lambda m, v, row, c: f"{_upper_first(c.group(m['group']))} in the district: {v:.2f} a week per grid",
    ),
    (re.compile(r"co_(?P<pair>\w+)_(?P<weeks>\d+)w"), _co_occurrence, _co_occurrence_en),
    (
        re.compile(r"cnt_l1_\w+_(?P<weeks>\d+)w"),
        lambda m, v, row, c: (
            f"{_window_phrase(int(m['weeks']))}{c.labels.get(m.string, '该类')}事件{v:.0f}起"
        ),
        lambda m, v, row, c: (
            f"{v:.0f} {c.labels.get(m.string, 'such')} events {_window_phrase_en(int(m['weeks']))}"
        ),
    ),
    (
        re.compile(r"cnt_txt_\w+_(?P<weeks>\d+)w"),
        lambda m, v, row, c: (
            f"{_window_phrase(int(m['weeks']))}文本识别为“{c.labels.get(m.string, '该类')}”的事件{v:.0f}起"
        ),
        lambda m, v, row, c: (
            f"{v:.0f} events {_window_phrase_en(int(m['weeks']))} whose text reads as "
            f"“{c.labels.get(m.string, 'this kind')}”"
        ),
    ),
    (
        re.compile(r"holiday_days"),
        lambda m, v, row, c: f"预测周有{v:.0f}天节假日" if v else "预测周无节假日",
        lambda m, v, row, c: (
            f"{v:.0f} holiday days in the forecast week" if v else "no holidays in the forecast week"
        ),
    ),
    (
        re.compile(r"days_off"),
        lambda m, v, row, c: f"预测周休息日{v:.0f}天",
        lambda m, v, row, c: f"{v:.0f} days off in the forecast week",
    ),
    (
        re.compile(r"spring_festival_week"),
        lambda m, v, row, c: "预测周在春节假期" if v else "预测周不在春节假期",
        lambda m, v, row, c: (
            "the forecast week is in the Spring Festival holiday"
            if v
            else "the forecast week is not in the Spring Festival holiday"
        ),
    ),
    (
        re.compile(r"weeks_from_spring_festival"),
        lambda m, v, row, c: (
            "春节所在周" if v == 0 else (f"春节前{-v:.0f}周" if v < 0 else f"春节后{v:.0f}周")
        ),
        lambda m, v, row, c: (
            "the Spring Festival week"
            if v == 0
            else (
                f"{-v:.0f} weeks before the Spring Festival"
                if v < 0
                else f"{v:.0f} weeks after the Spring Festival"
            )
        ),
    ),
    (
        re.compile(r"week_of_year|year_sin|year_cos"),
        lambda m, v, row, c: _season(row),
        lambda m, v, row, c: _season_en(row),
    ),
    (
        re.compile(r"month"),
        lambda m, v, row, c: f"{v:.0f}月的季节规律",
        lambda m, v, row, c: (
            f"the seasonal pattern of {_MONTHS_EN[int(v) - 1] if 1 <= v <= 12 else f'month {v:g}'}"
        ),
    ),
]
_MONTHS_EN = ("January February March April May June July August September October November December").split()


def _window_phrase(weeks: int) -> str:
    return "近一年" if weeks == 52 else ("上周" if weeks == 1 else f"近{weeks}周")


def _window_phrase_en(weeks: int) -> str:
    return (
        "in the past year" if weeks == 52 else ("last week" if weeks == 1 else f"in the past {weeks} weeks")
    )


def _season(row: Mapping) -> str:
    week = _number(row.get("week_of_year"))
    return f"季节规律（全年第{week:.0f}周）" if week is not None else "季节规律"


def _season_en(row: Mapping) -> str:
    week = _number(row.get("week_of_year"))
    return (
        f"the seasonal pattern (week {week:.0f} of the year)" if week is not None else "the seasonal pattern"
    )


def _lower_first(name: str) -> str:
    """ "Safety hazards" -> "safety hazards" mid-sentence; "ATM thefts" (an acronym) stays."""
    if len(name) > 1 and name[1].isupper():
        return name
    return name[:1].lower() + name[1:]


def _upper_first(name: str) -> str:
    return name[:1].upper() + name[1:]


def _times(ratio: float) -> str:
    """3.0 -> "3", 2.54 -> "2.5", 12.3 -> "12"."""
    if ratio >= 10:
        return f"{ratio:.0f}"
    return f"{ratio:.1f}".rstrip("0").rstrip(".")


def _number(value: object) -> float | None:
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return None if np.isnan(number) else number
