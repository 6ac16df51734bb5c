"""Why a grid's risk is what it is: the top drivers of a forecast, in Chinese for people.

Drivers come from LightGBM's SHAP values (``RiskForecaster.contributions``, on the booster's raw scale:
log-odds or log expected count). The ``k`` features with the largest absolute contribution are the
drivers; each is rendered from the row's own point-in-time values, e.g. ``cnt_dispute_4w = 12`` with
``cnt_dispute_52w = 52`` becomes "近4周矛盾纠纷12起，为近一年周均的3倍". ``direction`` says whether it
raises (``up``) or lowers (``down``) the risk. The raw contributions are kept as JSON next to the text.

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
BIAS = "bias"
STATIC_TEXT: dict[str, Callable[[float], str]] = {
    "population": lambda v: f"常住人口约{v:,.0f}人",
    "households": lambda v: f"约{v:,.0f}户",
    "elderly_share": lambda v: f"老年人口占比{v:.0%}",
    "building_age": lambda v: f"房屋平均楼龄约{v:.0f}年",
    "commercial_density": lambda v: f"商业密度{v:.2f}",
    "old_compound": lambda v: "老旧小区" if v >= 0.5 else "非老旧小区",
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
) -> list[list[Driver]]:
    """Per row, the ``k`` features with the largest |contribution| (bias column excluded), largest first.

    ``contributions``: (n_rows, n_features [+ 1 bias]); ``rows``: the same rows with the feature columns
    (values for the texts); ``labels``: column -> category name for category / text-category counts.
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
                    text=describe(feature_names[j], row, labels),
                )
                for j in picked
                if values[i, j] != 0
            ]
        )
    return drivers


def drivers_text(drivers: Sequence[Driver]) -> str:
    """One line for a table cell: the sentences joined by "；", lowering ones marked."""
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
def describe(feature: str, row: Mapping[str, object], labels: Mapping[str, str] | None = None) -> str:
    """A short Chinese sentence for one feature of one row."""
    value = _number(row.get(feature))
    if value is None:
        return f"{feature}缺失"
    for pattern, render in _RULES:
        match = pattern.fullmatch(feature)
        if match:
            return render(match, value, row, labels or {})
    if feature in STATIC_TEXT:
        return STATIC_TEXT[feature](value)
    return f"{feature}={value:g}"


def _count_window(match: re.Match, value: float, row: Mapping, labels: Mapping) -> str:
    group, weeks = match["group"], int(match["weeks"])
    name = GROUP_NAMES.get(group, group)
    if weeks == 52:
        return f"近一年{name}{value:.0f}起，周均{value / 52:.1f}起"
    head = f"上周{name}{value:.0f}起" if weeks == 1 else f"近{weeks}周{name}{value:.0f}起"
    yearly = _number(row.get(f"cnt_{group}_52w"))
    if yearly and value:
        return f"{head}，为近一年周均的{_times((value / weeks) / (yearly / 52))}倍"
    if yearly == 0 and value:
        return f"{head}，此前一年没有"
    return head


def _weeks_since(match: re.Match, value: float, row: Mapping, labels: Mapping) -> str:
    name = GROUP_NAMES.get(match["group"], match["group"])
    if value >= 104:
        return f"近两年未发生{name}"
    if value <= 1:
        return f"上周发生过{name}"
    return f"距上次{name}已{value:.0f}周"


def _signed(amount: float, more: str = "多", less: str = "少") -> str:
    return f"{more if amount >= 0 else less}{abs(amount):.1f}"


_RULES: list[tuple[re.Pattern, Callable[[re.Match, float, Mapping, Mapping], str]]] = [
    (re.compile(r"cnt_(?P<group>dispute|hazard|all)_(?P<weeks>\d+)w"), _count_window),
    (re.compile(r"weeks_since_(?P<group>\w+)"), _weeks_since),
    (
        re.compile(r"trend_(?P<group>\w+)"),
        lambda m, v, row, lb: f"{GROUP_NAMES.get(m['group'], m['group'])}近4周周均比近一年周均{_signed(v)}起",
    ),
    (re.compile(r"log_history_weeks"), lambda m, v, row, lb: f"已有{v:.0f}周历史记录"),
    (
        re.compile(r"ewm_(?P<group>\w+?)_h(?P<h>[\d.]+)"),
        lambda m, v, row, lb: (
            f"{GROUP_NAMES.get(m['group'], m['group'])}加权周均{v:.2f}起（半衰期{m['h']}周）"
        ),
    ),
    (
        re.compile(r"excite_(?P<group>\w+)"),
        lambda m, v, row, lb: (
            f"{GROUP_NAMES.get(m['group'], m['group'])}近期周均比长期{_signed(v, '高', '低')}起"
            + ("，近期有聚集" if v > 0 else "")
        ),
    ),
    (
        re.compile(r"mean_(?P<group>\w+?)_all"),
        lambda m, v, row, lb: f"有记录以来{GROUP_NAMES.get(m['group'], m['group'])}周均{v:.2f}起",
    ),
    (
        re.compile(r"season_(?P<group>\w+?)_ly(?P<weeks>\d+)w"),
        lambda m, v, row, lb: f"去年同期前后{m['weeks']}周{GROUP_NAMES.get(m['group'], m['group'])}{v:.0f}起",
    ),
    (
        re.compile(r"nbr_(?P<group>\w+?)_(?P<weeks>\d+)w_sum"),
        lambda m, v, row, lb: f"相邻网格近{m['weeks']}周{GROUP_NAMES.get(m['group'], m['group'])}{v:.0f}起",
    ),
    (
        re.compile(r"nbr_(?P<group>\w+?)_(?P<weeks>\d+)w_mean"),
        lambda m, v, row, lb: (
            f"相邻网格近{m['weeks']}周{GROUP_NAMES.get(m['group'], m['group'])}平均每格{v:.1f}起"
        ),
    ),
    (
        re.compile(r"nbr_(?P<group>\w+?)_h(?P<h>[\d.]+)_mean"),
        lambda m, v, row, lb: f"相邻网格{GROUP_NAMES.get(m['group'], m['group'])}加权周均每格{v:.2f}起",
    ),
    (
        re.compile(r"nbrw_(?P<group>\w+?)_h(?P<h>[\d.]+)_mean"),
        lambda m, v, row, lb: f"周边较大范围{GROUP_NAMES.get(m['group'], m['group'])}加权周均每格{v:.2f}起",
    ),
    (
        re.compile(r"parent_(?P<group>\w+?)_(?P<weeks>\d+)w"),
        lambda m, v, row, lb: (
            f"所在片区{_window_phrase(int(m['weeks']))}{GROUP_NAMES.get(m['group'], m['group'])}{v:.0f}起"
        ),
    ),
    (
        re.compile(r"parent_(?P<group>\w+?)_(?P<weeks>\d+)w_per_unit"),
        lambda m, v, row, lb: (
            f"所在片区{_window_phrase(int(m['weeks']))}"
            f"{GROUP_NAMES.get(m['group'], m['group'])}平均每格{v:.1f}起"
        ),
    ),
    (
        re.compile(r"parent_(?P<group>\w+?)_h(?P<h>[\d.]+)_per_unit"),
        lambda m, v, row, lb: f"所在片区{GROUP_NAMES.get(m['group'], m['group'])}加权周均每格{v:.2f}起",
    ),
    (
        re.compile(r"co_dispute_hazard_(?P<weeks>\d+)w"),
        lambda m, v, row, lb: f"近{m['weeks']}周中有{v:.0f}周矛盾纠纷与安全隐患同时发生",
    ),
    (
        re.compile(r"cnt_l1_\w+_(?P<weeks>\d+)w"),
        lambda m, v, row, lb: f"{_window_phrase(int(m['weeks']))}{lb.get(m.string, '该类')}事件{v:.0f}起",
    ),
    (
        re.compile(r"cnt_txt_\w+_(?P<weeks>\d+)w"),
        lambda m, v, row, lb: (
            f"{_window_phrase(int(m['weeks']))}文本识别为“{lb.get(m.string, '该类')}”的事件{v:.0f}起"
        ),
    ),
    (
        re.compile(r"holiday_days"),
        lambda m, v, row, lb: f"预测周有{v:.0f}天节假日" if v else "预测周无节假日",
    ),
    (re.compile(r"days_off"), lambda m, v, row, lb: f"预测周休息日{v:.0f}天"),
    (
        re.compile(r"spring_festival_week"),
        lambda m, v, row, lb: "预测周在春节假期" if v else "预测周不在春节假期",
    ),
    (
        re.compile(r"weeks_from_spring_festival"),
        lambda m, v, row, lb: (
            "春节所在周" if v == 0 else (f"春节前{-v:.0f}周" if v < 0 else f"春节后{v:.0f}周")
        ),
    ),
    (re.compile(r"week_of_year|year_sin|year_cos"), lambda m, v, row, lb: _season(row)),
    (re.compile(r"month"), lambda m, v, row, lb: f"{v:.0f}月的季节规律"),
]


def _window_phrase(weeks: int) -> str:
    return "近一年" if weeks == 52 else ("上周" if weeks == 1 else f"近{weeks}周")


def _season(row: Mapping) -> str:
    week = _number(row.get("week_of_year"))
    return f"季节规律（全年第{week:.0f}周）" if week is not None else "季节规律"


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
