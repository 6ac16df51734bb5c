"""The batch jobs with the registered models, on polars or Spark (``--engine``): `gridsense forecast`
scores the coming week with the risk champion and writes the tables the API reads; `gridsense
classify-log` classifies a log of reports with the text champion."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, timed
from cli.options import (
    EncodingOption,
    EngineOption,
    NotAfterOption,
    NotBeforeOption,
    RawRejectsOption,
    SiteOption,
    TaxonomyOption,
)
from core.home import project_root
from core.registry import RISK_EXPERIMENT, TEXT_EXPERIMENT
from core.sites import Site, load_site


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
    engine: EngineOption = None,
) -> None:
    """Score the coming week for every grid with the champion risk model; write the table the API reads.
    The panel is a file or a partitioned folder (build-features --engine spark writes one)."""

    from batch.forecast import default_map_metric
    from core.errors import require_file
    from engines import resolve_engine
    from engines.jobs import run_forecast
    from features.files import read_parquet
    from features.taxonomy import load_taxonomy
    from training.tracking import use_local_store

    engine = resolve_engine(engine)  # first: a missing Spark is said before any file is read
    current = load_site(site)
    panel_path = panel or _site_panel(current)
    if not panel_path.exists():  # said before the model store is opened (a file or a partitioned folder)
        require_file(panel_path, "panel")
    grids_path = grids or current.grids
    has_grids = grids_path is not None and (grids is not None or grids_path.exists())
    grid_table = read_parquet(grids_path, "grid table", ["grid_id"]) if has_grids else None
    use_local_store(project_root(), current.model_name(RISK_EXPERIMENT))
    site_taxonomy = load_taxonomy(taxonomy or current.taxonomy)
    table = timed(
        f"forecast coming week ({engine})",
        lambda: run_forecast(
            panel_path,
            out or current.forecasts,
            engine=engine,
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


def _site_panel(site: Site) -> Path:
    """The site's panel file, else its partitioned panel folder (features/panel/) when only that exists."""
    folder = site.paths.features / "panel"
    return folder if not site.paths.panel.exists() and folder.is_dir() else site.paths.panel


def classify_log(
    events: Annotated[
        Path, typer.Argument(help="Event log of reports to classify (CSV or Parquet; categories not needed).")
    ],
    out: Annotated[
        Path, typer.Option(help="Output Parquet: event_id and the text model's outputs, in the log's order.")
    ],
    alias: str = "champion",
    taxonomy: TaxonomyOption = None,
    encoding: EncodingOption = None,
    not_before: NotBeforeOption = None,
    not_after: NotAfterOption = None,
    raw_rejects: RawRejectsOption = False,
    site: SiteOption = None,
    engine: EngineOption = None,
) -> None:
    """Classify every report of an event log with the site's registered text model (@champion); rejected
    rows go to OUT's name + .rejects.csv with their reasons."""
    from cli.data import _date_window, _encoding, _print_load_report
    from engines import resolve_engine
    from engines.jobs import classify_log as classify_with_engine
    from features.taxonomy import load_taxonomy
    from training.tracking import use_local_store

    engine = resolve_engine(engine)  # first: a missing Spark is said before any file is read
    current = load_site(site)
    name = current.model_name(TEXT_EXPERIMENT)
    use_local_store(project_root(), name)
    model_uri = _pinned_uri(name, alias)
    import mlflow

    run = timed(
        f"classify {events.name} with {model_uri} ({engine})",
        lambda: classify_with_engine(
            events,
            out,
            load_taxonomy(taxonomy or current.taxonomy),
            model_uri,
            engine=engine,
            window=_date_window(not_before, not_after),
            encoding=_encoding(encoding),
            tracking_uri=mlflow.get_tracking_uri(),
        ),
    )
    _print_load_report(run.load, out.with_name(out.name.split(".")[0] + ".rejects.csv"), raw_rejects)
    console.print(f"  wrote {out} ({run.classified.height:,} rows)", markup=False, soft_wrap=True)


def _pinned_uri(name: str, alias: str) -> str:
    """``models:/name/version`` of the version at ``alias`` (a promotion during the job changes nothing)."""
    from mlflow import MlflowClient

    from core.errors import GridSenseUserError
    from core.registry import alias_version

    version = alias_version(MlflowClient(), name, alias)
    if version is None:
        raise GridSenseUserError(
            f"no registered text model {name}@{alias}", "train one with `gridsense train text` first"
        )
    return f"models:/{name}/{version}"
