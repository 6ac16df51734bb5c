"""Where GridSense keeps its data, models and MLflow store (all under the project root)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.registry import DEMO_SITE
from core.settings import Settings


def project_root() -> Path:
    """The GridSense home: GRIDSENSE_HOME if set, else the current directory (`Settings.home`). Read
    without the site: `gridsense site init chicago` must work while GRIDSENSE_SITE already names chicago,
    and `--site` must override a GRIDSENSE_SITE whose file is broken."""
    return Settings(site=DEMO_SITE).home


@dataclass(frozen=True)
class DataPaths:
    """The layout of a site's data folder (the demo's: datasets/demo; core.sites for any other)."""

    root: Path

    @property
    def grids(self) -> Path:
        return self.root / "grids.parquet"

    @property
    def events(self) -> Path:
        return self.root / "events.parquet"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def text_dataset(self) -> Path:
        return self.features / "text.parquet"

    @property
    def panel(self) -> Path:
        return self.features / "panel.parquet"

    @property
    def rejects(self) -> Path:
        return self.features / "rejects.csv"

    @property
    def forecasts(self) -> Path:
        return self.root / "forecasts" / "latest.parquet"

    @property
    def dashboard_tables(self) -> Path:
        return self.root / "serving"


@dataclass(frozen=True)
class DemoPaths(DataPaths):
    @classmethod
    def under(cls, root: Path | None = None) -> DemoPaths:
        return cls((root or project_root()) / "datasets" / "demo")
