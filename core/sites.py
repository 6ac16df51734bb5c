"""Sites: one name (`GRIDSENSE_SITE`, `--site`) selects a city's data, taxonomy, holiday calendar, language
and time zone, and its registered model names (`core.registry.site_model_name`).

The `demo` site needs no file: its data are the demo city's (datasets/demo/..., `core.home.DemoPaths`) and
its calendar, language and time zone the settings' defaults. Any other site is a small YAML file,
`<home>/sites/<name>.yaml`, written by `gridsense site init` and read only here:

    events: datasets/chicago/events.parquet   # the canonical event log (gridsense ingest); absent: none
                                              # (a text-only site trained from a labelled CSV)
    grids: datasets/chicago/grids.parquet     # the grid table; absent: a text-only site (no panel)
    taxonomy: datasets/chicago/taxonomy.yaml  # absent: the bundled GridSense taxonomy
    calendar: US                              # CN, another `holidays` country code, or none
    language: en                              # zh | en: risk drivers and dashboard labels
    timezone: America/Chicago                 # IANA zone of the event times
    data: datasets/chicago                    # where features/, forecasts/ and serving/ go
    map_metric: relative                      # what the map draws: probability | expected | relative

Every key may be left out (calendar, language, time zone: the settings' defaults; data:
datasets/<name>; map_metric: picked from the forecasts, `batch.forecast.default_map_metric`).
Relative paths are relative to the GridSense home. Precedence, highest first: a command's option, a
`GRIDSENSE_*` variable set explicitly, the site file, the default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from core.errors import GridSenseUserError
from core.home import DataPaths, DemoPaths
from core.registry import DEMO_SITE, RISK_MODEL_NAME, TEXT_MODEL_NAME, model_uri, site_model_name
from core.settings import Settings  # which imports this module only when it validates (site_settings)

SITES_DIR = "sites"
SITE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# `gridsense-risk-benchmark` is the benchmark's registered name (core.registry.RISK_BENCHMARK_NAME)
RESERVED_NAMES = frozenset({"benchmark"})
INIT_HINT = "gridsense site init {name} [--events EVENTS --grids GRIDS --taxonomy T.yaml ...]"


class SiteError(GridSenseUserError):
    """An unknown site, a bad site name or a site file with a mistake (not a ValueError: it must reach the
    CLI as itself, not wrapped in the settings' validation error)."""


class SiteFile(BaseModel):
    """What a site file may say (every other key is a mistake)."""

    model_config = ConfigDict(extra="forbid")

    events: Path | None = None
    grids: Path | None = None
    taxonomy: Path | None = None
    calendar: str | None = None
    language: Literal["zh", "en"] | None = None
    timezone: str | None = None
    data: Path | None = None
    map_metric: Literal["probability", "expected", "relative"] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(
                    f"unknown time zone {name!r} (an IANA name such as America/Chicago)"
                ) from exc
        return name

    @field_validator("calendar")
    @classmethod
    def _calendar_code(cls, code: str | None) -> str | None:
        if code is not None and code.lower() != "none" and not re.fullmatch(r"[A-Za-z]{2,3}", code):
            raise ValueError(f"calendar {code!r} is not a country code (CN, US, SE, ...) or none")
        return code

    def as_yaml(self) -> str:
        values = {key: str(value) for key, value in self.model_dump(exclude_none=True).items()}
        return yaml.safe_dump(values, allow_unicode=True, sort_keys=False)


@dataclass(frozen=True)
class Site:
    """One site, resolved: absolute paths and the final calendar, language and time zone."""

    name: str
    file: Path | None  # None for the demo
    paths: DataPaths  # features/, forecasts/, serving/ of this site
    events: Path | None  # None: a site without an event log (text from a labelled CSV)
    grids: Path | None  # None: a text-only site
    taxonomy: Path | None  # None: the bundled taxonomy
    forecasts: Path
    dashboard_tables: Path
    calendar: str
    language: str
    timezone: str
    map_metric: str | None = None  # None: picked from the forecasts

    @property
    def is_demo(self) -> bool:
        return self.name == DEMO_SITE

    def require_events(self) -> Path:
        """The site's event log; SiteError when its file names none."""
        if self.events is None:
            raise SiteError(
                f"site {self.name!r} has no event log",
                f"pass --events, or add `events:` to {self.file} (gridsense site init {self.name} "
                "--events ... --overwrite)",
            )
        return self.events

    def model_name(self, name: str) -> str:
        """This site's registered name of model `name` (TEXT_MODEL_NAME, RISK_MODEL_NAME, ...)."""
        return site_model_name(name, self.name)

    def describe(self) -> dict[str, Any]:
        """Every resolved value, for `gridsense site show`."""
        return {
            "site": self.name,
            "file": _text(self.file),
            "events": _text(self.events),
            "grids": _text(self.grids),
            "taxonomy": _text(self.taxonomy) or "(bundled)",
            "calendar": self.calendar,
            "language": self.language,
            "timezone": self.timezone,
            "map_metric": self.map_metric or "(from the forecasts)",
            "features": str(self.paths.features),
            "forecasts": str(self.forecasts),
            "dashboard_tables": str(self.dashboard_tables),
            "text_model": self.model_name(TEXT_MODEL_NAME),
            "risk_model": self.model_name(RISK_MODEL_NAME),
        }


def _text(path: Path | None) -> str:
    return "" if path is None else str(path)


# ---- reading ---------------------------------------------------------------------------------------------
def check_name(name: str) -> str:
    if not SITE_NAME.fullmatch(name) or name in RESERVED_NAMES:
        raise SiteError(
            f"{name!r} is not a usable site name",
            "use lower-case letters, digits, - and _ (up to 40; not 'benchmark'), e.g. chicago",
        )
    return name


def site_file_path(home: Path, name: str) -> Path:
    return home / SITES_DIR / f"{check_name(name)}.yaml"


def read_site_file(home: Path, name: str) -> SiteFile | None:
    """The site file of `name` (None for the demo); SiteError when it is missing or has a mistake."""
    if check_name(name) == DEMO_SITE:
        return None
    path = site_file_path(home, name)
    if not path.is_file():
        raise SiteError(
            f"unknown site {name!r}: no site file {path}",
            f"create it with `{INIT_HINT.format(name=name)}`, or see `gridsense site list`",
        )
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SiteError(f"site file {path} is unreadable: {_first_line(exc)}", _fix_hint(name)) from None
    if not isinstance(data, dict):
        raise SiteError(f"site file {path} is not a mapping of keys to values", _fix_hint(name))
    return validated_site_file(data, f"site file {path}", _fix_hint(name))


def validated_site_file(data: dict[str, Any], source: str, hint: str) -> SiteFile:
    """`data` as a SiteFile; SiteError naming `source` and the first mistake."""
    try:
        return SiteFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "file"
        what = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        raise SiteError(f"{source}: {where}: {what.removeprefix('Value error, ')}", hint) from None


def _fix_hint(name: str) -> str:
    keys = ", ".join(SiteFile.model_fields)
    return f"fix it (keys: {keys}) or write it again with `{INIT_HINT.format(name=name)} --overwrite`"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def site_settings(home: Path, name: str) -> dict[str, Any]:
    """The settings a site sets (`core.settings.Settings` applies them where no variable is set): its
    tables, calendar, language, time zone and registered model names. Empty for the demo."""
    spec = read_site_file(home, name)
    if spec is None:
        return {}
    paths = _data_paths(home, name, spec)
    values: dict[str, Any] = {
        "forecasts_path": paths.forecasts,
        "dashboard_tables_dir": paths.dashboard_tables,
        "text_model_uri": model_uri(site_model_name(TEXT_MODEL_NAME, name)),
        "risk_model_name": site_model_name(RISK_MODEL_NAME, name),
    }
    for field, key in (
        ("calendar_country", "calendar"),
        ("language", "language"),
        ("site_timezone", "timezone"),
    ):
        if getattr(spec, key) is not None:
            values[field] = getattr(spec, key)
    return values


def _data_paths(home: Path, name: str, spec: SiteFile) -> DataPaths:
    return DataPaths(home / (spec.data or Path("datasets") / name))


def load_site(name: str | None = None, settings: Settings | None = None) -> Site:
    """The site `name` (default: GRIDSENSE_SITE), resolved against the settings (which already hold the
    site's calendar, language, time zone and tables unless a variable overrides them)."""
    settings = settings or (Settings(site=name) if name else Settings())
    home, spec = settings.home, read_site_file(settings.home, settings.site)
    if spec is None:
        paths: DataPaths = DemoPaths.under(home)
        events, grids, taxonomy, file = paths.events, paths.grids, None, None
    else:
        paths = _data_paths(home, settings.site, spec)
        events = home / spec.events if spec.events else None
        grids = home / spec.grids if spec.grids else None
        taxonomy = home / spec.taxonomy if spec.taxonomy else None
        file = site_file_path(home, settings.site)
    return Site(
        name=settings.site,
        file=file,
        paths=paths,
        events=events,
        grids=grids,
        taxonomy=taxonomy,
        forecasts=settings.forecasts_path,
        dashboard_tables=settings.dashboard_tables_dir,
        calendar=settings.calendar_country,
        language=settings.language,
        timezone=settings.site_timezone,
        map_metric=spec.map_metric if spec else None,
    )


def list_sites(home: Path) -> list[str]:
    """`demo` and every site with a file, sorted."""
    folder = home / SITES_DIR
    names = sorted(path.stem for path in folder.glob("*.yaml")) if folder.is_dir() else []
    return [DEMO_SITE, *(name for name in names if SITE_NAME.fullmatch(name) and name != DEMO_SITE)]


# ---- writing ---------------------------------------------------------------------------------------------
def write_site_file(home: Path, name: str, spec: SiteFile, overwrite: bool = False) -> Path:
    """Write `<home>/sites/<name>.yaml`; refuses the demo (it needs no file) and an existing file unless
    `overwrite`."""
    if check_name(name) == DEMO_SITE:
        raise SiteError("the demo site needs no site file", "pick another name, e.g. the city's")
    path = site_file_path(home, name)
    if path.exists() and not overwrite:
        raise SiteError(f"site {name!r} already exists ({path})", "pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# GridSense site {name!r} (gridsense site init); paths are relative to the GridSense home\n"
    path.write_text(header + spec.as_yaml(), "utf-8")
    return path


def relative_to_home(path: Path, home: Path) -> Path:
    """`path` (as the user typed it: relative to the working directory) as a site file stores it: relative
    to the home when it lies under it, else absolute."""
    absolute = path.expanduser().resolve()
    try:
        return absolute.relative_to(home)
    except ValueError:
        return absolute
