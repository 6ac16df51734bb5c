"""`gridsense ingest`: a city's raw event log -> the canonical event log, grid table, taxonomy, rejects."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from cli.console import console
from cli.data import _date_window, _encoding
from cli.options import EncodingOption, NotAfterOption, NotBeforeOption, RawRejectsOption
from core.errors import GridSenseUserError


def ingest(
    path: Annotated[Path, typer.Argument(help="The raw event log (.csv, .csv.gz or .parquet).")],
    out: Annotated[Path, typer.Option(help="Output folder: events.parquet, grids.parquet, rejects.csv.")],
    adapter: Annotated[
        str | None, typer.Option(help="A bundled adapter: gridsense, chicago or sweden.")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="A mapping file (YAML) for a log no adapter knows; see docs/CONTRACTS.md."),
    ] = None,
    cell_size_m: Annotated[
        float | None, typer.Option(min=1, help="Square cell size in metres (lat/lon sources).")
    ] = None,
    grid_table: Annotated[
        Path | None,
        typer.Option(help="The city's grid / area table (default: the file the adapter or mapping names)."),
    ] = None,
    encoding: EncodingOption = None,
    not_before: NotBeforeOption = None,
    not_after: NotAfterOption = None,
    raw_rejects: RawRejectsOption = False,
) -> None:
    """Read a raw log through an adapter or a mapping file and write GridSense's own files."""
    from features.ingest import ingest as read_log
    from features.ingest.canonical import write_ingested

    if (adapter is None) == (mapping is None):
        raise GridSenseUserError("give either --adapter NAME or --mapping FILE.yaml (one of them)")
    started = time.perf_counter()
    log = read_log(
        adapter or mapping,
        path,
        cell_size_m=cell_size_m,
        units_path=grid_table,
        window=_date_window(not_before, not_after),
        encoding=_encoding(encoding),
    )
    written = write_ingested(log, out, raw_rejects=raw_rejects)
    seconds = time.perf_counter() - started
    console.print(
        f"  read {written.rows_read:,} rows: accepted {written.accepted:,}, rejected {written.rejected:,} "
        f"({seconds:.1f}s); {log.units.height:,} grids",
        markup=False,
    )
    for reason, count in sorted(written.reasons.items(), key=lambda item: -item[1])[:10]:
        console.print(f"    {count:>9,}  {reason}", markup=False)
    for name, file in written.paths.items():
        console.print(f"  {name}: {file}", markup=False, soft_wrap=True)
    _print_next_steps(written.paths)


def _print_next_steps(paths: dict[str, Path]) -> None:
    taxonomy = f" --taxonomy {paths['taxonomy']}" if "taxonomy" in paths else ""
    console.print(
        f"  next: gridsense validate-events {paths['events']}{taxonomy}\n"
        f"        gridsense site init NAME --events {paths['events']} --grids {paths['grids']}{taxonomy} "
        "[--calendar US --language en --timezone ...]\n"
        "        gridsense build-features --site NAME",
        markup=False,
        soft_wrap=True,
    )
