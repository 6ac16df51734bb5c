"""A city with one risk group (Chicago's crimes: disputes only) trains that group; LightGBM used to stop with
"sum of labels is zero" on the empty one (issue 12)."""

from __future__ import annotations

import polars as pl
import pytest

from core.errors import GridSenseUserError
from core.registry import RISK_EXPERIMENT
from evaluation.panel_speed import synthetic_log
from features.panel import DEFAULT_GROUPS, PanelOptions, build_panel
from training.train_risk import groups_with_events


def disputes_only_panel() -> pl.DataFrame:
    log, grids = synthetic_log(events=4_000, units=30, weeks=40, seed=5)
    no_hazards = (
        pl.when(pl.col("risk_group") == "hazard").then(pl.lit("none")).otherwise(pl.col("risk_group"))
    )
    log = log.with_columns(no_hazards.alias("risk_group"))
    # the taxonomy declares both groups; the log holds events of one (a panel of the log alone has one)
    return build_panel(log, grids, options=PanelOptions(risk_groups=DEFAULT_GROUPS))


def test_only_the_groups_with_events_are_trained():
    panel = disputes_only_panel()
    assert panel["n_hazard"].sum() == 0 and groups_with_events(panel) == ("dispute",)
    with pytest.raises(GridSenseUserError, match="no events of any risk group"):
        groups_with_events(panel.with_columns(pl.lit(0).alias("n_dispute")))


@pytest.mark.slow
def test_a_one_group_city_trains_and_registers(tmp_path):
    from training.tracking import use_local_store
    from training.train_risk import train_risk_model

    panel = disputes_only_panel()
    path = tmp_path / "panel.parquet"
    panel.write_parquet(path)
    use_local_store(tmp_path, RISK_EXPERIMENT)
    result = train_risk_model(panel, path, tmp_path, test_weeks=6, alias=None)
    assert "model.dispute.average_precision" in result.metrics
    assert not any(".hazard." in key for key in result.metrics)
