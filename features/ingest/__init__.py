"""Generic ingest: any event log -> GridSense's normalised event and unit frames.

An adapter is a YAML config (``features/ingest/configs/*.yaml``, or your own file) plus a thin loader
chosen by the config: ``gridsense`` (the event-log contract and its taxonomy), ``place.kind: latlon``
(points binned into square cells, e.g. Chicago), ``named`` (each named area is a grid) or ``grid_table``
(the city's own grids: ``features.ingest.mapped``), or ``place.kind: area`` (named areas at two levels,
e.g. Swedish municipalities within counties). ``features.ingest.canonical`` writes an ingested log as
the canonical event log, grid table and taxonomy (``gridsense ingest``).
See ``features.ingest.core`` for the frames.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import DataFileError
from features.date_window import DateWindow
from features.encodings import AUTO
from features.ingest.config import AdapterConfig, load_adapter_config
from features.ingest.core import EVENT_SCHEMA, UNIT_SCHEMA, IngestedLog

__all__ = [
    "EVENT_SCHEMA",
    "UNIT_SCHEMA",
    "AdapterConfig",
    "IngestedLog",
    "ingest",
    "load_adapter_config",
    "panel_from_log",
    "panel_options",
]


def ingest(
    adapter: str | Path | AdapterConfig,
    events_path: str | Path,
    cell_size_m: float | None = None,
    units_path: str | Path | None = None,
    text_classifier=None,
    window: DateWindow | None = None,
    encoding: str = AUTO,
) -> IngestedLog:
    """Read ``events_path`` with ``adapter`` (a bundled name, a YAML path or a config).

    ``cell_size_m`` overrides the cell size of lat/lon adapters; ``units_path`` the grids / areas file
    (``place.kind: grid_table``: the city's grid table)
    (default: the config's file next to the events); ``text_classifier`` fills ``text_category`` for
    GridSense logs (texts -> category names). Times outside ``window`` (default
    ``DateWindow.default()``) are rejected; ``encoding`` applies to CSV files (default: detected).
    """
    config = adapter if isinstance(adapter, AdapterConfig) else load_adapter_config(adapter)
    config = config.with_cell_size(cell_size_m)
    if config.uses_taxonomy:
        from features.ingest import gridsense

        return gridsense.load(
            config, events_path, units_path, text_classifier=text_classifier, window=window, encoding=encoding
        )
    kind = config.place["kind"]
    if kind in ("latlon", "named", "grid_table"):
        from features.ingest import mapped

        return mapped.load(config, events_path, units_path, window, encoding)
    if kind == "area":
        from features.ingest import sweden

        return sweden.load(config, events_path, units_path, window, encoding)
    raise DataFileError(
        f"adapter {config.name!r}: place.kind {kind!r} needs risk_groups: taxonomy (GridSense schema)"
    )


def panel_options(log: IngestedLog, **overrides):
    """Panel options for an ingested log: its config's calendar and panel sections, its risk groups, the
    units' parent area, the events' text categories."""
    from features.panel import PanelOptions

    calendar = log.config.calendar
    settings = {
        "holiday_country": calendar.get("holiday_country"),
        "holiday_categories": tuple(calendar["holiday_categories"])
        if calendar.get("holiday_categories")
        else None,
        "parent_column": "parent_area",
        "risk_groups": log.groups or None,
        "text_category_column": "text_category"
        if log.events["text_category"].null_count() < log.events.height
        else None,
    }
    settings.update({k: v for k, v in log.config.panel.items() if k != "neighbours_k"})
    settings.update(overrides)
    for key in ("half_lives", "neighbour_half_lives", "parent_windows", "text_categories"):
        if isinstance(settings.get(key), list):
            settings[key] = tuple(settings[key])
    return PanelOptions(**settings)


def panel_from_log(log: IngestedLog, first_week=None, last_week=None, **overrides):
    """The grid x week panel of an ingested log (``features.panel.build_panel``) with its options."""
    from features.panel import build_panel

    events, grids = log.panel_inputs()
    return build_panel(
        events,
        grids,
        first_week=first_week,
        last_week=last_week,
        neighbours_k=int(log.config.panel.get("neighbours_k", 6)),
        l1_categories=log.categories(),
        options=panel_options(log, **overrides),
    )
