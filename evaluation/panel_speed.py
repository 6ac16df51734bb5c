"""`gridsense benchmark panel`: how long the point-in-time panel takes on a large synthetic log.

A seeded log of ``events`` events over ``units`` units on a square lattice and ``weeks`` weeks, with
20 categories (two of them disputes and hazards), a text category and a parent area per 25 units,
goes through ``features.panel.build_panel`` with every feature family on. The log is generated in
memory (numpy), so the timing is the panel alone.
"""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np
import polars as pl


def synthetic_log(events: int, units: int, weeks: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(units)))
    ids = np.array([f"c{i:05d}" for i in range(units)])
    grids = pl.DataFrame(
        {
            "grid_id": ids,
            "x_m": (np.arange(units) % side) * 1000.0,
            "y_m": (np.arange(units) // side) * 1000.0,
            "district": [f"d{i // 25}" for i in range(units)],
        }
    )
    weight = rng.gamma(0.8, 1.0, units)
    unit_of = rng.choice(units, size=events, p=weight / weight.sum())
    seconds = rng.integers(0, weeks * 7 * 86_400, events)
    category = rng.integers(0, 20, events)
    log = pl.DataFrame(
        {
            "event_id": np.arange(events).astype(str),
            "reported_at": np.datetime64(datetime(2022, 1, 3), "us")
            + (seconds * 1_000_000).astype("timedelta64[us]"),
            "grid_id": ids[unit_of],
            "category_l1": np.char.add("cat", category.astype(str)),
            "risk_group": np.where(category == 0, "dispute", np.where(category == 1, "hazard", "none")),
            "text_category": np.char.add("t", (category % 7).astype(str)),
        }
    ).with_columns(pl.col("reported_at").cast(pl.Datetime("us")))
    return log, grids


def time_panel(events: int = 1_000_000, units: int = 650, weeks: int = 156, repeats: int = 1) -> dict:
    from features.panel import build_panel

    log, grids = synthetic_log(events, units, weeks)
    timings = []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        panel = build_panel(log, grids)
        timings.append((time.perf_counter() - started, time.process_time() - cpu))
    wall, cpu = min(timings)
    return {
        "events": events,
        "units": units,
        "weeks": weeks,
        "rows": panel.height,
        "columns": panel.width,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
    }
