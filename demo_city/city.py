"""`generate_demo_city`: grids, events and texts of the synthetic city 示范市, written as Parquet.

Deterministic: one ``numpy`` Generator(PCG64(seed)) draws grids and events, one ``random.Random(seed)``
writes the texts, nothing reads the clock, and Parquet is written with fixed settings, so the same
arguments give the same bytes.

Language drifts: a quarter of each leaf's templates (``bank.mark_late``) appear only in the last
``LATE_PERIOD_SHARE`` of the period, so a time-based test split holds phrasings never seen in training.
``template_id`` names each report's body template (null for fallback texts) to measure exactly that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from demo_city.grids import CENTRE_LAT, METRES_PER_DEGREE_LAT, lattice_position, make_grids
from demo_city.process import SECONDS_PER_DAY, SimulatedEvents, simulate_events
from demo_city.rates import CHANNELS
from demo_city.slots import Place, street_names
from demo_city.texts import TextEngine, load_templates
from features.taxonomy import Taxonomy, load_taxonomy

Progress = Callable[[str, int, int], None]  # (stage, done, total)

MEDIAN_HOURS_TO_CLOSE = {"dispute": 72.0, "hazard": 10.0, "none": 30.0}
HOURS_TO_CLOSE_SIGMA = 1.1
MAX_DAYS_TO_CLOSE = 45
LOCATION_JITTER_M = 120.0
HOTLINE_WITHOUT_LOCATION = 0.3
IN_PROGRESS_SHARE = 0.7  # of the reports still open when the log ends
LATE_PERIOD_SHARE = 0.25  # late templates are used in this last share of the period
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "statistics": True,
    "row_group_size": 65_536,
}
EVENT_COLUMNS = (
    "event_id",
    "reported_at",
    "grid_id",
    "channel",
    "title",
    "text",
    "category_l1",
    "category_l2",
    "category_l3",
    "department",
    "status",
    "closed_at",
    "lat",
    "lon",
    "secondary_leaf_id",
    "template_id",
)


@dataclass(frozen=True)
class DemoCity:
    out_dir: Path
    grids_path: Path
    events_path: Path
    n_grids: int
    n_events: int
    seed: int
    start: date
    end: date  # exclusive: the first day after the log
    late_from: datetime  # late templates (new phrasings) are used from here on
    fallback_texts: int  # reports whose body came from the fallback (leaves without templates)


def generate_demo_city(
    out_dir: Path,
    seed: int = 7,
    n_grids: int = 360,
    start: date = date(2024, 1, 1),
    weeks: int = 104,
    taxonomy: Taxonomy | None = None,
    scale: float = 1.0,
    progress: Progress | None = None,
) -> DemoCity:
    """Write ``grids.parquet`` and ``events.parquet`` (sorted by reported_at, event_id) into ``out_dir``."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    taxonomy = taxonomy or load_taxonomy()
    report = progress or (lambda stage, done, total: None)
    rng = np.random.Generator(np.random.PCG64(seed))
    report("grids", 0, 1)
    grids = make_grids(n_grids, rng)
    report("events", 0, 1)
    n_days = 7 * weeks
    late_from = datetime.combine(start, datetime.min.time()) + timedelta(
        days=round(n_days * (1.0 - LATE_PERIOD_SHARE))
    )
    engine = TextEngine(taxonomy, load_templates(), seed=seed, late_from=late_from)
    simulated = simulate_events(
        taxonomy, grids, start, n_days, rng, scale=scale, sensed=engine.sensed_leaves
    )
    events = _event_table(simulated, grids, taxonomy, start, n_days, rng)
    events = events.with_columns(_render_texts(engine, events, grids, report)).select(EVENT_COLUMNS)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grids_path, events_path = out_dir / "grids.parquet", out_dir / "events.parquet"
    grids.write_parquet(grids_path, **PARQUET_OPTIONS)
    events.write_parquet(events_path, **PARQUET_OPTIONS)
    return DemoCity(
        out_dir=out_dir,
        grids_path=grids_path,
        events_path=events_path,
        n_grids=grids.height,
        n_events=events.height,
        seed=seed,
        start=start,
        end=start + timedelta(days=n_days),
        late_from=late_from,
        fallback_texts=engine.fallback_count,
    )


def _event_table(
    simulated: SimulatedEvents,
    grids: pl.DataFrame,
    taxonomy: Taxonomy,
    start: date,
    n_days: int,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Everything but the texts, sorted by time (ties broken by a seeded random key)."""
    order = np.lexsort((rng.random(len(simulated)), simulated.seconds))
    grid, leaf, seconds = simulated.grid[order], simulated.leaf[order], simulated.seconds[order]
    leaf_ids = np.array(taxonomy.leaf_ids + [None], dtype=object)  # index -1 -> None
    table = pl.DataFrame(
        {
            "event_id": [f"E{i + 1:07d}" for i in range(len(order))],
            "seconds": seconds,
            "grid_id": grids["grid_id"].to_numpy()[grid],
            "grid_index": grid,
            "channel": np.array(CHANNELS)[simulated.channel[order]],
            "leaf_id": pl.Series(leaf_ids[leaf].tolist(), dtype=pl.String),
            "secondary_leaf_id": pl.Series(
                leaf_ids[simulated.secondary_leaf[order]].tolist(), dtype=pl.String
            ),
        }
    ).join(pl.DataFrame(taxonomy.to_records()), on="leaf_id", how="left", maintain_order="left")
    closing = _closing(table["risk_group"].to_numpy(), seconds, n_days, rng)
    location = _locations(grids, grid, table["channel"].to_numpy(), rng)
    origin = pl.lit(datetime.combine(start, datetime.min.time()), dtype=pl.Datetime("us"))
    return table.with_columns(
        (origin + pl.duration(seconds=pl.col("seconds"))).alias("reported_at"),
        pl.when(pl.Series(closing["closed"]))
        .then(origin + pl.duration(seconds=pl.Series(closing["seconds"])))
        .alias("closed_at"),
        pl.Series("status", closing["status"]),
        pl.Series("lat", location["lat"]).fill_nan(None),
        pl.Series("lon", location["lon"]).fill_nan(None),
    )


def _closing(
    group: np.ndarray, seconds: np.ndarray, n_days: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Status and closing time: closed after a lognormal delay, unless that falls after the log ends."""
    median = np.array([MEDIAN_HOURS_TO_CLOSE[g] for g in group.tolist()])
    hours = np.clip(
        median * np.exp(rng.normal(0.0, HOURS_TO_CLOSE_SIGMA, len(group))), 0.25, 24 * MAX_DAYS_TO_CLOSE
    )
    closed_seconds = seconds + np.rint(hours * 3600).astype(np.int64)
    closed = closed_seconds < n_days * SECONDS_PER_DAY
    still_open = np.where(rng.random(len(group)) < IN_PROGRESS_SHARE, "in_progress", "open")
    return {"status": np.where(closed, "closed", still_open), "closed": closed, "seconds": closed_seconds}


def _locations(
    grids: pl.DataFrame, grid: np.ndarray, channel: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Grid centre plus jitter (NaN = unknown); ~30% of hotline calls give no location."""
    n = len(grid)
    jitter = rng.normal(0.0, LOCATION_JITTER_M, (n, 2))
    lat = grids["lat"].to_numpy()[grid] + jitter[:, 1] / METRES_PER_DEGREE_LAT
    lon = grids["lon"].to_numpy()[grid] + jitter[:, 0] / (
        METRES_PER_DEGREE_LAT * np.cos(np.radians(CENTRE_LAT))
    )
    missing = (channel == "hotline") & (rng.random(n) < HOTLINE_WITHOUT_LOCATION)
    return {
        "lat": np.where(missing, np.nan, np.round(lat, 6)),
        "lon": np.where(missing, np.nan, np.round(lon, 6)),
    }


def _render_texts(
    engine: TextEngine, events: pl.DataFrame, grids: pl.DataFrame, report: Progress
) -> list[pl.Series]:
    """Title, text and template id per event: the one Python loop over events (string work)."""
    places = _places(grids)
    leaf = engine.taxonomy.leaf
    columns = ("leaf_id", "secondary_leaf_id", "channel", "grid_index", "reported_at")
    titles: list[str | None] = []
    texts: list[str] = []
    template_ids: list[str | None] = []
    total = events.height
    for i, (leaf_id, secondary_id, channel, grid, when) in enumerate(events.select(columns).iter_rows()):
        if i % 5000 == 0:
            report("texts", i, total)
        secondary = leaf(secondary_id) if secondary_id else None
        rendered = engine.render(leaf(leaf_id), channel, places[grid], when, secondary)
        titles.append(rendered.title)
        texts.append(rendered.text)
        template_ids.append(rendered.template_id)
    report("texts", total, total)
    return [
        pl.Series("title", titles, dtype=pl.String),
        pl.Series("text", texts, dtype=pl.String),
        pl.Series("template_id", template_ids, dtype=pl.String),
    ]


def _places(grids: pl.DataFrame) -> list[Place]:
    rows, cols = lattice_position(grids["x_m"].to_numpy(), grids["y_m"].to_numpy())
    return [
        Place(community=community, district=district, roads=street_names(row, col))
        for community, district, row, col in zip(
            grids["community"].to_list(),
            grids["district"].to_list(),
            rows.tolist(),
            cols.tolist(),
            strict=True,
        )
    ]
