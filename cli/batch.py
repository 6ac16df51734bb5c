"""`gridsense forecast`: score the coming week with the risk champion; write the tables the API reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, timed
from cli.options import SiteOption, TaxonomyOption
from core.home import project_root
from core.registry import RISK_EXPERIMENT
from core.sites import load_site


def forecast(
    panel: Annotated[Path | None, typer.Option(help="Grid x week panel (default: the site's).")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Forecast table (default: the site's, GRIDSENSE_FORECASTS_PATH: where the API reads it)."
        ),
    ] = None,
    grids: Annotated[
        Path | None, typer.Option(help="Grid attributes, for districts (default: the site's).")
    ] = None,
    alias: str = "champion",
    events: Annotated[
        Path | None,
        typer.Option(
            help="The city's event log: also rebuild the dashboard tables (map, weekly activity, recent "
            "reports) from it (default: the site's when no --panel is given)."
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
    site: SiteOption = None,
) -> None:
    """Score the coming week for every grid with the champion risk model; write the table the API reads."""

    from batch.forecast import default_map_metric, run_forecast
    from features.files import read_parquet
    from features.panel import read_panel
    from features.taxonomy import load_taxonomy
    from training.tracking import use_local_store

    current = load_site(site)
    panel_table = read_panel(panel or current.paths.panel)
    grids_path = grids or current.grids
    has_grids = grids_path is not None and (grids is not None or grids_path.exists())
    grid_table = read_parquet(grids_path, "grid table", ["grid_id"]) if has_grids else None
    use_local_store(project_root(), current.model_name(RISK_EXPERIMENT))
    site_taxonomy = load_taxonomy(taxonomy or current.taxonomy)
    table = timed(
        "forecast coming week",
        lambda: run_forecast(
            panel_table,
            out or current.forecasts,
            alias=alias,
            grids=grid_table,
            site=current.name,
            taxonomy=site_taxonomy,
            language=current.language,
        ),  # fmt: skip
    )
    week = table.get_column("week_start").max()
    console.print(f"  {table.get_column('grid_id').n_unique():,} grids forecast for the week of {week}")
    site_events = current.events if panel is None and current.events and current.events.exists() else None
    events_path = events or site_events
    if events_path is None or not has_grids:
        console.print("  dashboard tables not rebuilt: pass --events (and --grids) to refresh the map")
        return
    from batch.dashboard_tables import write_dashboard_tables_from_registry

    timed(
        "dashboard tables",
        lambda: write_dashboard_tables_from_registry(
            events_path,
            grids_path,
            current.dashboard_tables,
            taxonomy=site_taxonomy,
            site=current.name,
            language=current.language,
            map_metric=current.map_metric or default_map_metric(table),
            groups=table.get_column("group").unique(maintain_order=True).to_list(),
            keep_raw_text=keep_raw_report_text,
        ),
    )
