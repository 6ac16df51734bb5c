"""`gridsense demo-data | validate-events | build-features`: the event log and the feature pipelines."""

from __future__ import annotations

from datetime import date, datetime
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
from core.home import DemoPaths
from core.settings import Settings
from core.sites import Site, load_site


def demo_data(
    out: Annotated[Path | None, typer.Option(help="Output folder (default datasets/demo).")] = None,
    seed: int = 7,
    grids: int = 360,
    weeks: int = 104,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2024-01-01",
    scale: Annotated[float, typer.Option(help="Event volume multiplier.")] = 1.0,
) -> None:
    """Generate the seeded synthetic demo city (grids + two years of events with texts)."""
    from demo_city import generate_demo_city

    target = out or DemoPaths.under().root
    city = timed(
        f"demo city: {grids} grids x {weeks} weeks",
        lambda: generate_demo_city(
            target, seed=seed, n_grids=grids, start=date.fromisoformat(start), weeks=weeks, scale=scale
        ),
    )
    console.print(f"  wrote {city.grids_path} and {city.events_path} ({city.n_events:,} events)")


def validate_events(
    path: Annotated[Path | None, typer.Argument(help="The event log (default: the site's).")] = None,
    taxonomy: TaxonomyOption = None,
    rejects: Annotated[Path | None, typer.Option(help="Where to write rejected rows (CSV).")] = None,
    unlabelled: Annotated[
        bool, typer.Option(help="Accept rows without categories (incoming reports).")
    ] = False,
    encoding: EncodingOption = None,
    not_before: NotBeforeOption = None,
    not_after: NotAfterOption = None,
    raw_rejects: RawRejectsOption = False,
    site: SiteOption = None,
) -> None:
    """Check an event log (CSV or Parquet) against the contract and report accepted/rejected counts."""
    from features.events import load_events
    from features.taxonomy import load_taxonomy

    current = load_site(site)
    path = path or current.require_events()
    loaded = load_events(
        path,
        load_taxonomy(taxonomy or current.taxonomy),
        require_labels=not unlabelled,
        encoding=_encoding(encoding),
        window=_date_window(not_before, not_after),
    )
    _print_load_report(loaded, rejects or path.with_suffix(".rejects.csv"), raw_rejects)


def _date_window(not_before: datetime | None, not_after: datetime | None):
    """The options, else GRIDSENSE_EVENTS_NOT_BEFORE/_AFTER, else the loader's defaults."""
    from features.date_window import DEFAULT_NOT_BEFORE, DateWindow

    settings = Settings()
    not_before = not_before or settings.events_not_before or DEFAULT_NOT_BEFORE
    not_after = not_after or settings.events_not_after
    window = DateWindow.default(not_before)
    return window if not_after is None else DateWindow(window.not_before, not_after)


def holiday_country(option: str | None, site: Site | None = None) -> str | None:
    """The --calendar option, else the site's calendar (GRIDSENSE_CALENDAR_COUNTRY, the site file);
    "none" means no holiday columns."""
    country = (option or (site or load_site()).calendar).strip()
    return None if country.lower() == "none" else country


def _encoding(option: str | None) -> str:
    return option or Settings().events_encoding


def _print_load_report(loaded, rejects_path: Path, raw_rejects: bool = False) -> None:
    encoding = loaded.counts.get("encoding")
    read_as = f" (read as {encoding})" if encoding and encoding != "utf-8" else ""
    counts = loaded.counts  # from the counts: a load on Spark keeps its accepted rows there, not in memory
    console.print(f"  accepted {counts['events']:,} rows, rejected {counts['rejects']:,}{read_as}")
    if loaded.rejects.height:
        loaded.write_rejects(rejects_path, raw=raw_rejects)
        reasons = loaded.counts.get("reasons", {})
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1])[:10]:
            console.print(f"    {count:>7,}  {reason}", markup=False)
        kept = "raw text, SENSITIVE" if raw_rejects else "personal data redacted"
        console.print(
            f"  rejected rows with reasons ({kept}, mode 0600): {rejects_path}", markup=False, soft_wrap=True
        )
    if _mostly_unknown_paths(loaded.counts):
        console.print(UNKNOWN_PATHS_HINT, markup=False, soft_wrap=True)


UNKNOWN_PATHS_HINT = (
    "  hint: most rows name a category path this taxonomy lacks: pass your own with --taxonomy "
    "(`gridsense taxonomy import TREE.csv --out T.yaml` makes one), and list what it misses with "
    "`gridsense taxonomy check --taxonomy T.yaml LOG`"
)


def _mostly_unknown_paths(counts: dict) -> bool:
    """At least half of the rows read were rejected for an unknown category path."""
    unknown = counts.get("reasons", {}).get("unknown category path", 0)
    return unknown > 0 and 2 * unknown >= counts.get("rows_read", 0)


def build_features(
    events: Annotated[Path | None, typer.Option(help="Event log (default: the site's).")] = None,
    grids: Annotated[Path | None, typer.Option(help="Grid attributes (default: the site's).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: the site's, datasets/demo/features).")
    ] = None,
    taxonomy: TaxonomyOption = None,
    encoding: EncodingOption = None,
    not_before: NotBeforeOption = None,
    not_after: NotAfterOption = None,
    max_panel_weeks: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Refuse a panel spanning more weeks than this, lookback included "
            "(default: GRIDSENSE_MAX_PANEL_WEEKS, 30 years).",
        ),
    ] = None,
    raw_rejects: RawRejectsOption = False,
    text_only: Annotated[
        bool, typer.Option("--text-only", help="Build only the text training set: no grids file, no panel.")
    ] = False,
    calendar: Annotated[
        str | None,
        typer.Option(
            help="Holiday calendar of the panel: CN (with Spring Festival weeks), another ISO country code "
            "(US, SE, ...) or none (default: the site's; GRIDSENSE_CALENDAR_COUNTRY, CN)."
        ),
    ] = None,
    site: SiteOption = None,
    engine: EngineOption = None,
) -> None:
    """Validate the event log, then build the text training set and the grid x week panel (with --engine
    spark: as partitioned Parquet in OUT/panel/site=<site>/year_month=<YYYY-MM>/)."""
    from engines import resolve_engine
    from features.events import load_events
    from features.files import read_parquet
    from features.panel import GRID_COLUMNS, MAX_PANEL_WEEKS, PanelOptions, build_panel, events_outside_grids
    from features.taxonomy import load_taxonomy
    from features.text_dataset import build_text_dataset

    engine = resolve_engine(engine)  # first: a missing Spark is said before any file is read
    current = load_site(site)
    events_path, grids_path = events or current.require_events(), grids or current.grids
    out_dir = out or current.paths.features
    tax = load_taxonomy(taxonomy or current.taxonomy)
    skip_panel = _panel_skipped(text_only, grids, events, current)
    grid_table = None if skip_panel else read_parquet(grids_path, "grid table", GRID_COLUMNS)  # early
    window = _date_window(not_before, not_after)
    max_weeks = max_panel_weeks or Settings().max_panel_weeks or MAX_PANEL_WEEKS
    if engine == "spark" and not skip_panel:  # the same files, computed on Spark
        from engines.jobs import build_features as build_with_engine

        options = PanelOptions(holiday_country=holiday_country(calendar, current))
        run = timed(
            "features on spark",
            lambda: build_with_engine(
                events_path,
                grids_path,
                out_dir,
                tax,
                site=current.name,
                engine="spark",
                window=window,
                options=options,
                max_weeks=max_weeks,
                raw_rejects=raw_rejects,
            ),
        )
        counts = run.load.counts
        console.print(
            f"  accepted {counts['events']:,} rows, rejected {counts['rejects']:,}; text.parquet: "
            f"{run.text_rows:,} rows; panel: {len(run.panel_partitions)} partitions in {out_dir / 'panel'}"
        )
        return
    loaded = timed(
        "load + validate events",
        lambda: load_events(
            events_path, tax, require_labels=True, encoding=_encoding(encoding), window=window
        ),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    _print_load_report(loaded, out_dir / "rejects.csv", raw_rejects)
    if loaded.events.is_empty():
        from core.errors import DataFileError

        raise DataFileError(
            f"{events_path}: no valid events", f"see the reasons in {out_dir / 'rejects.csv'}"
        )
    text = timed("text training set", lambda: build_text_dataset(loaded.events))
    if text.is_empty():
        console.print("  text.parquet not written: the log has no report texts")
    else:
        text.write_parquet(out_dir / "text.parquet")
        console.print(f"  text.parquet: {text.height:,} rows; {_split_counts(text)}")
    if skip_panel:
        console.print(f"  panel skipped: {skip_panel}", markup=False, soft_wrap=True)
        return
    panel = timed(
        "grid x week panel",
        lambda: build_panel(
            loaded.events,
            grid_table,
            l1_categories=tax.level1,
            options=PanelOptions(holiday_country=holiday_country(calendar, current)),
            max_weeks=max_weeks,
        ),
    )
    # the taxonomy it was built with travels in the file: `train risk` records it with the run
    taxonomy_meta = {"taxonomy.version": str(tax.version), "taxonomy.fingerprint": tax.fingerprint}
    panel.write_parquet(out_dir / "panel.parquet", metadata=taxonomy_meta)
    console.print(f"  panel.parquet: {panel.height:,} rows x {panel.width} columns")
    _warn_events_outside_grids(events_outside_grids(loaded.events, grid_table), grids_path)


def _panel_skipped(text_only: bool, grids: Path | None, events: Path | None, site: Site) -> str:
    """Why the panel is not built ("" when it is): asked for text only, a site without a grids file, or
    another log than the site's and no grids file."""
    if text_only:
        return "--text-only"
    if grids is None and site.grids is None:
        return f"site {site.name!r} has no grids file; pass --grids to build the grid x week panel too"
    if grids is None and events is not None and not site.grids.exists():
        return "no grids file; pass --grids to build the grid x week panel too"
    return ""


def _warn_events_outside_grids(outside, grids_path: Path) -> None:
    if outside.is_empty():
        return
    shown = ", ".join(f"{grid_id} ({n:,})" for grid_id, n in outside.head(5).iter_rows())
    console.print(
        f"  [yellow]warning:[/] {outside['events'].sum():,} events of {outside.height:,} grid ids that "
        f"are not in {grids_path} are left out of the panel: {shown}"
    )


def _split_counts(text) -> str:
    counts = text.group_by("split").len().sort("split").iter_rows()
    return ", ".join(f"{split} {n:,}" for split, n in counts)
