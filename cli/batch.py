"""`gridsense forecast`: score the coming week with the risk champion; write the tables the API reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, timed
from cli.options import TaxonomyOption
from core.home import DemoPaths, project_root
from core.registry import RISK_EXPERIMENT
from core.settings import Settings


def forecast(
    panel: Annotated[Path | None, typer.Option(help="Grid x week panel (default: the demo's).")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Forecast table (default: GRIDSENSE_FORECASTS_PATH, where the API reads it)."),
    ] = None,
    grids: Annotated[
        Path | None, typer.Option(help="Grid attributes, for districts (default: the demo's).")
    ] = None,
    alias: str = "champion",
    events: Annotated[
        Path | None,
        typer.Option(
            help="The city's event log: also rebuild the dashboard tables (map, weekly activity, recent "
            "reports) from it (default: the demo city's when no --panel is given)."
        ),
    ] = None,
    taxonomy: TaxonomyOption = None,
    keep_raw_report_text: Annotated[
        bool,
        typer.Option(
            help="Also keep the recent reports' unredacted text for data_scientist keys (personal data; "
            "docs/OPERATIONS.md, Personal data)."
        ),
    ] = False,
) -> None:
    """Score the coming week for every grid with the champion risk model; write the table the API reads."""

    from batch.forecast import run_forecast
    from features.files import read_parquet
    from features.panel import read_panel
    from training.tracking import use_local_store

    demo, settings = DemoPaths.under(), Settings()
    panel_table = read_panel(panel or demo.panel)
    grids_path = grids or demo.grids
    grid_table = read_parquet(grids_path, "grid table", ["grid_id"]) if grids or grids_path.exists() else None
    use_local_store(project_root(), RISK_EXPERIMENT)
    table = timed(
        "forecast coming week",
        lambda: run_forecast(panel_table, out or settings.forecasts_path, alias=alias, grids=grid_table),
    )
    week = table.get_column("week_start").max()
    console.print(f"  {table.get_column('grid_id').n_unique():,} grids forecast for the week of {week}")
    events_path = events or (demo.events if panel is None and demo.events.exists() else None)
    if events_path is None:
        console.print("  dashboard tables not rebuilt: pass --events (and --grids) to refresh the map")
        return
    from batch.dashboard_tables import write_dashboard_tables_from_registry
    from features.taxonomy import load_taxonomy

    timed(
        "dashboard tables",
        lambda: write_dashboard_tables_from_registry(
            events_path,
            grids_path,
            settings.dashboard_tables_dir,
            taxonomy=load_taxonomy(taxonomy),
            keep_raw_text=keep_raw_report_text,
        ),
    )
