"""`generate_demo_city`: grids, events and texts of the synthetic city 示范市, written as Parquet.

Deterministic: one ``numpy`` Generator(PCG64(seed)) draws grids and events, one ``random.Random(seed)``
writes the texts, nothing reads the clock, and Parquet is written with fixed settings, so the same
arguments give the same bytes.

Language drifts: a quarter of each leaf's templates (``bank.mark_late``) appear only in the last
``LATE_PERIOD_SHARE`` of the period, so a time-based test split holds phrasings never seen in training.
``template_id`` names each report's body template (null for fallback texts) to measure exactly that.

Repeats and noise (``repeats``, ``invalid``): the simulated events are *incidents*; each may be reported
again (other reporters, channels, wording, hours to weeks later, naming the same spot: the text engine is
anchored to the incident), and invalid reports (tests, gibberish, ads, abuse, thanks, out of scope) are
added, so that by default 45% of all reports are repeats and 23% invalid. Ground truth: ``incident_id``
(shared by one incident's reports; null for invalid ones), ``reporter_id`` and ``invalid_reason``. Invalid
reports carry the taxonomy's catch-all leaf (其他) so that a labelled log stays valid; the text and panel
pipelines leave them out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from demo_city import invalid as invalid_reports
from demo_city import repeats as repeat_reports
from demo_city.grids import CENTRE_LAT, METRES_PER_DEGREE_LAT, lattice_position, make_grids
from demo_city.process import SECONDS_PER_DAY, SimulatedEvents, simulate_events
from demo_city.rates import CHANNELS
from demo_city.repeats import DUPLICATE_SHARE, INVALID_SHARE
from demo_city.slots import Place, street_names
from demo_city.texts import Template, TextEngine, load_templates
from features.taxonomy import Leaf, Taxonomy, load_taxonomy

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
    "incident_id",
    "reporter_id",
    "invalid_reason",
)
INVALID_HOURS_TO_CLOSE = (0.2, 48.0)  # closed (discarded) after a uniform delay in this range


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
    n_incidents: int = 0
    n_repeats: int = 0  # reports of an incident after its first
    n_invalid: int = 0


def generate_demo_city(
    out_dir: Path,
    seed: int = 7,
    n_grids: int = 360,
    start: date = date(2024, 1, 1),
    weeks: int = 104,
    taxonomy: Taxonomy | None = None,
    scale: float = 1.0,
    progress: Progress | None = None,
    duplicate_share: float = DUPLICATE_SHARE,
    invalid_share: float = INVALID_SHARE,
) -> DemoCity:
    """Write ``grids.parquet`` and ``events.parquet`` (sorted by reported_at, event_id) into ``out_dir``.
    ``duplicate_share`` and ``invalid_share``: the expected shares of repeat and invalid reports."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    repeat_reports.check_shares(duplicate_share, invalid_share)
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
    simulated = simulate_events(taxonomy, grids, start, n_days, rng, scale=scale, sensed=engine.sensed_leaves)
    incidents = _event_table(simulated, grids, taxonomy, start, n_days, rng)
    valid = _with_repeats(incidents, grids, start, n_days, rng, duplicate_share, invalid_share)
    valid = valid.with_columns(_render_texts(engine, valid, grids, report, seed))
    invalid = _invalid_table(engine, valid, grids, taxonomy, start, n_days, rng, invalid_share)
    events = _numbered(pl.concat([valid, invalid], how="diagonal_relaxed"), rng).select(EVENT_COLUMNS)

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
        n_incidents=incidents.height,
        n_repeats=valid.height - incidents.height,
        n_invalid=invalid.height,
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


def _with_repeats(
    incidents: pl.DataFrame,
    grids: pl.DataFrame,
    start: date,
    n_days: int,
    rng: np.random.Generator,
    duplicate_share: float,
    invalid_share: float,
) -> pl.DataFrame:
    """The incidents (first reports) and their repeat reports, sorted by time; ``incident`` numbers them."""
    incidents = incidents.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("incident"),
        pl.lit(False).alias("repeat"),
        pl.Series(
            "reporter_id",
            repeat_reports.reporter_ids(
                incidents["grid_index"].to_numpy(), incidents["channel"].to_numpy(), rng
            ),
            dtype=pl.String,
        ),
    )
    plan = repeat_reports.plan_repeats(
        incidents["seconds"].to_numpy(),
        incidents["channel"].to_numpy(),
        n_days * SECONDS_PER_DAY,
        rng,
        duplicate_share,
        invalid_share,
    )
    copies = incidents[plan.incident]
    grid = copies["grid_index"].to_numpy()
    others = repeat_reports.reporter_ids(grid, plan.channel, rng)
    reporter = np.where(plan.same_reporter, copies["reporter_id"].to_numpy(), others)
    location = _locations(grids, grid, plan.channel, rng)
    origin = pl.lit(datetime.combine(start, datetime.min.time()), dtype=pl.Datetime("us"))
    reported = origin + pl.duration(seconds=pl.col("seconds"))
    copies = copies.with_columns(
        pl.Series("seconds", plan.seconds),
        pl.Series("channel", plan.channel.astype(str), dtype=pl.String),
        pl.Series("reporter_id", reporter.tolist(), dtype=pl.String),
        pl.lit(True).alias("repeat"),
        pl.lit(None, dtype=pl.String).alias("secondary_leaf_id"),
        pl.Series("lat", location["lat"]).fill_nan(None),
        pl.Series("lon", location["lon"]).fill_nan(None),
    ).with_columns(
        reported.alias("reported_at"),
        pl.when(pl.col("closed_at").is_not_null())
        .then(pl.max_horizontal("closed_at", reported + pl.duration(hours=2)))
        .alias("closed_at"),
    )
    return pl.concat([incidents, copies], how="vertical_relaxed").sort(
        "seconds", "incident", maintain_order=True
    )


def _render_texts(
    engine: TextEngine, events: pl.DataFrame, grids: pl.DataFrame, report: Progress, seed: int
) -> list[pl.Series]:
    """Title, text and template id per report: the one Python loop over reports (string work). Every
    report of one incident names the same spot (the engine is anchored to the incident) and tells the
    same story (the first of its leaf's body templates it used: not a vague body, a title or an alarm)."""
    places = _places(grids)
    leaf = engine.taxonomy.leaf
    columns = ("leaf_id", "secondary_leaf_id", "channel", "grid_index", "reported_at", "incident", "repeat")
    titles: list[str | None] = []
    texts: list[str] = []
    template_ids: list[str | None] = []
    first_template: dict[int, str | None] = {}
    stories = {t.id for entry in engine.templates.values() for t in entry.templates}  # leaves' bodies
    total = events.height
    rows = events.select(columns).iter_rows()
    for i, (leaf_id, secondary_id, channel, grid, when, incident, repeat) in enumerate(rows):
        if i % 5000 == 0:
            report("texts", i, total)
        secondary = leaf(secondary_id) if secondary_id else None
        engine.anchor = f"{seed}:{incident}"
        engine.preferred = first_template.get(incident)
        rendered = engine.render(leaf(leaf_id), channel, places[grid], when, secondary)
        if rendered.template_id in stories:
            first_template.setdefault(incident, rendered.template_id)
        text = rendered.text
        if repeat and channel != "sensor":
            text = _repeat_sentence(engine, text, when)
        titles.append(rendered.title)
        texts.append(text)
        template_ids.append(rendered.template_id)
    engine.anchor = engine.preferred = None
    report("texts", total, total)
    return [
        pl.Series("title", titles, dtype=pl.String),
        pl.Series("text", texts, dtype=pl.String),
        pl.Series("template_id", template_ids, dtype=pl.String),
    ]


def _repeat_sentence(engine: TextEngine, text: str, when: datetime) -> str:
    rng = engine.rng
    if rng.random() >= repeat_reports.REPEAT_SENTENCE_SHARE:
        return text
    pool = repeat_reports.REPEAT_SENTENCES
    if engine.late_from is None or when >= engine.late_from:
        pool += repeat_reports.LATE_REPEAT_SENTENCES
    return text.rstrip("。！？!?") + "，" + rng.choice(pool) + "。"


def catch_all_leaf(taxonomy: Taxonomy) -> Leaf:
    """The leaf invalid reports are filed under: 其他 (the catch-all), else the last leaf of no risk group."""
    leaves = taxonomy.leaves
    named = [leaf for leaf in leaves if leaf.l1 == "其他"]
    plain = [leaf for leaf in leaves if leaf.risk_group == "none"]
    return (named or plain or list(leaves))[-1]


def _invalid_table(
    engine: TextEngine,
    valid: pl.DataFrame,
    grids: pl.DataFrame,
    taxonomy: Taxonomy,
    start: date,
    n_days: int,
    rng: np.random.Generator,
    invalid_share: float,
) -> pl.DataFrame:
    """Invalid reports, timed and placed like valid ones: a valid report's day and grid, another's hour."""
    n = repeat_reports.invalid_count(valid.height, invalid_share)
    pick = rng.integers(0, max(valid.height, 1), n) if valid.height else np.zeros(0, dtype=np.int64)
    end = n_days * SECONDS_PER_DAY
    day_start = valid["seconds"].to_numpy()[pick] // SECONDS_PER_DAY * SECONDS_PER_DAY
    seconds = np.minimum(day_start + valid["seconds"].to_numpy()[pick[::-1]] % SECONDS_PER_DAY, end - 1)
    grid = valid["grid_index"].to_numpy()[pick]
    channels = list(invalid_reports.CHANNEL_SHARES)
    channel = np.array(channels)[
        rng.choice(len(channels), n, p=list(invalid_reports.CHANNEL_SHARES.values()))
    ]
    reasons = list(invalid_reports.REASON_SHARES)
    reason = np.array(reasons)[rng.choice(len(reasons), n, p=list(invalid_reports.REASON_SHARES.values()))]
    closed = seconds + (rng.uniform(*INVALID_HOURS_TO_CLOSE, n) * 3600).astype(np.int64)
    origin = datetime.combine(start, datetime.min.time())
    writer = invalid_reports.InvalidWriter(engine.rng, engine.late_from)
    places = _places(grids)
    written = []
    for g, s, r in zip(grid.tolist(), seconds.tolist(), reason.tolist(), strict=True):
        when = origin + timedelta(seconds=s)
        written.append(
            writer.write(
                r, when, lambda text, g=g, when=when: engine.fill(Template(text), None, places[g], when)
            )
        )
    leaf = catch_all_leaf(taxonomy)
    record = next(row for row in taxonomy.to_records() if row["leaf_id"] == leaf.id)
    base = pl.lit(origin, dtype=pl.Datetime("us"))
    return (
        pl.DataFrame(
            {
                "seconds": seconds.astype(np.int64),
                "grid_id": grids["grid_id"].to_numpy()[grid],
                "grid_index": grid,
                "channel": channel,
                "title": pl.Series([w.title for w in written], dtype=pl.String),
                "text": pl.Series([w.text for w in written], dtype=pl.String),
                "template_id": pl.Series([w.template_id for w in written], dtype=pl.String),
                "invalid_reason": pl.Series(reason.tolist(), dtype=pl.String),
                "reporter_id": pl.Series(
                    repeat_reports.reporter_ids(grid, channel, rng).tolist(), dtype=pl.String
                ),
                "closed": closed < end,
                "closed_seconds": closed,
            }
        )
        .with_columns(
            *(pl.lit(value, dtype=pl.String).alias(name) for name, value in record.items()),
            pl.lit(None, dtype=pl.String).alias("secondary_leaf_id"),
            (base + pl.duration(seconds=pl.col("seconds"))).alias("reported_at"),
            pl.when(pl.col("closed"))
            .then(base + pl.duration(seconds=pl.col("closed_seconds")))
            .alias("closed_at"),
            pl.when(pl.col("closed")).then(pl.lit("closed")).otherwise(pl.lit("open")).alias("status"),
            pl.lit(None, dtype=pl.Float64).alias("lat"),
            pl.lit(None, dtype=pl.Float64).alias("lon"),
        )
        .drop("closed", "closed_seconds")
    )


def _numbered(reports: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Sorted by time (ties broken by a seeded random key), with event and incident ids."""
    tie = pl.Series("__tie", rng.random(reports.height))
    return (
        reports.with_columns(tie)
        .sort("reported_at", "__tie")
        .with_columns(
            pl.format("E{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(7)).alias("event_id"),
            pl.when(pl.col("incident").is_not_null())
            .then(pl.format("I{}", (pl.col("incident") + 1).cast(pl.String).str.zfill(7)))
            .alias("incident_id"),
        )
    )


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
