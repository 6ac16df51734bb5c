"""The panel builder refuses a span that would allocate gigabytes (a mistyped 1700-01-01), in one line."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from core.errors import GridSenseUserError, PanelSpanError
from features.panel import MAX_PANEL_WEEKS, build_panel

GRIDS = pl.DataFrame({"grid_id": ["g0", "g1"], "x_m": [0.0, 100.0], "y_m": [0.0, 0.0]})


def events(*times: datetime) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(times))],
            "reported_at": list(times),
            "grid_id": ["g0"] * len(times),
            "category_l1": ["矛盾纠纷"] * len(times),
            "risk_group": ["dispute"] * len(times),
        },
        schema_overrides={"reported_at": pl.Datetime("us")},
    )


def test_a_centuries_long_span_is_refused_before_allocating():
    typo = events(datetime(1700, 1, 1), datetime(2024, 3, 5), datetime(2024, 6, 5))
    with pytest.raises(PanelSpanError) as caught:
        build_panel(typo, GRIDS)
    message = caught.value.one_line()
    assert isinstance(caught.value, GridSenseUserError) and "\n" not in message
    assert "16,9" in message and f"{MAX_PANEL_WEEKS:,} weeks" in message and "1699-12-28" in message


def test_the_limit_is_configurable_and_a_first_week_bounds_the_span():
    typo = events(datetime(1700, 1, 1), datetime(2024, 3, 5), datetime(2024, 6, 5))
    panel = build_panel(typo, GRIDS, first_week=date(2024, 3, 4))
    assert panel["week_start"].min() == date(2024, 3, 4) and panel.height == 2 * 15
    with pytest.raises(PanelSpanError, match="limit of 10 weeks"):
        build_panel(events(datetime(2024, 1, 1), datetime(2024, 6, 5)), GRIDS, max_weeks=10)
    assert build_panel(events(datetime(2024, 1, 1), datetime(2024, 6, 5)), GRIDS, max_weeks=30).height > 0
