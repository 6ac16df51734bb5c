"""Options shared by several `gridsense` commands."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

TaxonomyOption = Annotated[
    Path | None, typer.Option(help="Taxonomy YAML (default: the bundled GridSense taxonomy).")
]
AliasOption = Annotated[str, typer.Option(help="Registry alias to point at the new version ('' for none).")]
EncodingOption = Annotated[
    str | None,
    typer.Option(
        help="CSV encoding: auto (BOM, UTF-8, else detected; GBK/GB18030 read as GB18030) or a codec name "
        "(default: GRIDSENSE_EVENTS_ENCODING, auto).",
    ),
]
NotBeforeOption = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d"],
        help="Reject events dated before this day (default: GRIDSENSE_EVENTS_NOT_BEFORE, 2000-01-01).",
    ),
]
NotAfterOption = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"],
        help="Reject events dated after this time "
        "(default: GRIDSENSE_EVENTS_NOT_AFTER, the load time + 1 day).",
    ),
]
RawRejectsOption = Annotated[
    bool,
    typer.Option(
        "--raw-rejects",
        help="SENSITIVE: keep the original text in the rejects file (default: personal data redacted).",
    ),
]
SiteOption = Annotated[
    str | None,
    typer.Option(
        help="The site to work for: its data, taxonomy, calendar, language and model names "
        "(default: GRIDSENSE_SITE, demo; `gridsense site list`).",
    ),
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        help="polars | spark (default: GRIDSENSE_ENGINE, polars). spark needs `pip install -e '.[spark]'` "
        "and Java 17 (docs/SPARK.md).",
    ),
]
