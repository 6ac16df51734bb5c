"""`build-features --calendar` / GRIDSENSE_CALENDAR_COUNTRY choose the panel's holiday columns."""

from __future__ import annotations


def test_build_features_calendar_option_sets_the_panel_holidays(tmp_path, monkeypatch):
    """A city outside China gets its own holidays (or none), not Spring Festival columns (issue 12)."""
    import polars as pl

    from cli.data import holiday_country
    from evaluation.panel_speed import synthetic_log

    assert holiday_country("US") == "US" and holiday_country("none") is None
    monkeypatch.setenv("GRIDSENSE_CALENDAR_COUNTRY", "SE")
    assert holiday_country(None) == "SE"

    from features.panel import PanelOptions, build_panel

    log, grids = synthetic_log(events=500, units=4, weeks=60)
    china = build_panel(log, grids, options=PanelOptions(holiday_country=holiday_country("CN")))
    usa = build_panel(log, grids, options=PanelOptions(holiday_country=holiday_country("US")))
    bare = build_panel(log, grids, options=PanelOptions(holiday_country=holiday_country("none")))
    assert any("spring_festival" in name for name in china.columns)
    assert not any("spring_festival" in name for name in usa.columns) and "holiday_days" in usa.columns
    assert "holiday_days" not in bare.columns and isinstance(bare, pl.DataFrame)
