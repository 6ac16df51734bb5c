"""`gridsense site init | list | show`: a site names a city's data, taxonomy, calendar, language and time
zone (core.sites); every other command takes `--site NAME`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.console import console

app = typer.Typer(
    help="Sites: one name for a city's data, taxonomy, calendar, language and time zone.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="The site's name (lower case: chicago, tipdm, ...).")]


@app.command("init")
def init(
    name: NameArgument,
    events: Annotated[
        Path | None,
        typer.Option(
            help="The city's event log (gridsense ingest writes one; leave out for a site whose "
            "text comes from a labelled CSV: gridsense build-text --site NAME)."
        ),
    ] = None,
    grids: Annotated[
        Path | None, typer.Option(help="The grid table (leave out for a text-only site: no panel).")
    ] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy YAML (default: the bundled one).")] = None,
    calendar: Annotated[
        str | None,
        typer.Option(help="Holiday calendar: CN, another country code (US, SE, ...) or none (default CN)."),
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Language of risk drivers and dashboard labels: zh or en (default zh).")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone of the event times (default Asia/Shanghai).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the site's features, forecasts and dashboard tables (default datasets/NAME)."
        ),
    ] = None,
    map_metric: Annotated[
        str | None,
        typer.Option(
            help="What the map draws: probability | expected | relative (default: picked from the forecasts: "
            "relative in a dense city)."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing site file.")] = False,
) -> None:
    """Write the site file <home>/sites/NAME.yaml (paths stored relative to the home)."""
    from core.home import project_root
    from core.sites import load_site, relative_to_home, validated_site_file, write_site_file

    home = project_root()
    paths = {"events": events, "grids": grids, "taxonomy": taxonomy, "data": data}
    values = {key: relative_to_home(path, home) for key, path in paths.items() if path is not None}
    values |= {"calendar": calendar, "language": language, "timezone": timezone, "map_metric": map_metric}
    spec = validated_site_file(values, "site init", "see gridsense site init --help")
    path = write_site_file(home, name, spec, overwrite=overwrite)
    console.print(f"  wrote {path}", markup=False, soft_wrap=True)
    for key in ("events", "grids", "taxonomy"):
        given = paths[key]
        if given is not None and not given.exists():
            console.print(f"  [yellow]note:[/] {key} {given} does not exist yet", soft_wrap=True)
    _print_site(load_site(name))
    console.print(f"  next: gridsense build-features --site {name}", markup=False)


@app.command("list")
def list_sites() -> None:
    """The demo and every site with a file."""
    from core.home import project_root
    from core.sites import list_sites as names

    for name in names(project_root()):
        print(name)


@app.command("show")
def show(
    name: Annotated[str | None, typer.Argument(help="The site (default: GRIDSENSE_SITE, demo).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every path, setting and model name the site resolves to."""
    from core.sites import load_site

    site = load_site(name)
    if as_json:
        print(json.dumps(site.describe(), ensure_ascii=False, indent=1))
        return
    _print_site(site)


def _print_site(site) -> None:
    for key, value in site.describe().items():
        console.print(f"  {key:<17} {value}", markup=False, soft_wrap=True)
