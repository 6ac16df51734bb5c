"""A site's own risk groups (one, or three) from the taxonomy through the panel, the driver texts and the
dashboard tables (issue 12)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from textwrap import dedent

import numpy as np
import polars as pl
import pytest

from batch.dashboard_tables import build_dashboard_tables, site_description
from core.tables import SITE_FILE
from features.events import load_events
from features.panel import PanelOptions, build_panel, feature_columns, panel_groups
from features.taxonomy import load_taxonomy
from models.risk_explain import describe, drivers_text, top_drivers

ONE_GROUP = """
    name: city
    risk_groups:
      - {id: theft, labels: {zh: 盗窃, en: Theft}}
    categories:
      - {name: THEFT, department: police, risk_group: theft}
      - {name: NOISE, department: city}
"""
THREE_GROUPS = """
    name: city
    risk_groups:
      - {id: violence, labels: {zh: 暴力, en: Violence}}
      - {id: theft, labels: {zh: 盗窃, en: Theft}}
      - {id: fire, labels: {zh: 火灾, en: Fires}}
    categories:
      - {name: BATTERY, department: police, risk_group: violence}
      - {name: THEFT, department: police, risk_group: theft}
      - {name: ARSON, department: fire, risk_group: fire}
      - {name: NOISE, department: city}
"""
GRIDS = pl.DataFrame(
    {
        "grid_id": ["a", "b", "c", "d"],
        "x_m": [0.0, 1000.0, 0.0, 1000.0],
        "y_m": [0.0, 0.0, 1000.0, 1000.0],
        "district": ["n", "n", "s", "s"],
    }
)


def city(tmp_path: Path, taxonomy_text: str, n: int = 600):
    path = tmp_path / "taxonomy.yaml"
    path.write_text(dedent(taxonomy_text), encoding="utf-8")
    taxonomy = load_taxonomy(path)
    rng = np.random.default_rng(4)
    raw = pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "reported_at": [
                datetime(2024, 1, 1) + timedelta(hours=int(h)) for h in rng.integers(0, 30 * 168, n)
            ],
            "grid_id": rng.choice(GRIDS["grid_id"].to_list(), n).tolist(),
            "category_l1": rng.choice(taxonomy.level1, n).tolist(),
        }
    )
    loaded = load_events(raw, taxonomy)
    assert loaded.rejects.is_empty()
    return taxonomy, loaded.events


@pytest.mark.parametrize(
    ("taxonomy_text", "co_columns"),
    [
        (ONE_GROUP, []),
        (THREE_GROUPS, ["co_theft_fire_12w", "co_violence_fire_12w", "co_violence_theft_12w"]),
    ],
)
def test_the_sites_groups_from_taxonomy_to_dashboard(tmp_path, taxonomy_text, co_columns):
    taxonomy, events = city(tmp_path, taxonomy_text)
    groups = taxonomy.risk_groups

    panel = build_panel(
        events, GRIDS, neighbours_k=2, options=PanelOptions(risk_groups=groups, holiday_country="US")
    )
    assert panel_groups(panel) == groups
    assert sorted(c for c in panel.columns if c.startswith("co_")) == co_columns
    assert not [c for c in panel.columns if "dispute" in c or "hazard" in c or "spring_festival" in c]

    features = feature_columns(panel)
    rows = panel.tail(2)
    contributions = np.tile(np.linspace(1.0, -1.0, len(features) + 1), (2, 1))
    for language in ("zh", "en"):
        labels = taxonomy.group_labels(language)
        drivers = top_drivers(contributions, features, rows, k=3, language=language, group_labels=labels)
        assert len(drivers[0]) == 3 and drivers_text(drivers[0], language)
        texts = [
            describe(f, rows.row(0, named=True), language=language, group_labels=labels) for f in features
        ]
        if language == "zh":  # the labels, not the ids (in English "Theft" reads "theft" mid-sentence)
            assert not [t for t in texts if any(g in t for g in groups)], "group ids never reach the texts"
        assert not [t for t in texts if "=" in t], "every feature has a sentence"
    theft = describe(
        "cnt_theft_4w", {"cnt_theft_4w": 3}, language="en", group_labels=taxonomy.group_labels("en")
    )
    assert theft == "3 theft in the past 4 weeks"

    site = site_description("city", "en", groups, taxonomy, map_metric="relative")
    tables = build_dashboard_tables(events, GRIDS, None, groups=groups, site=site)
    n_columns = [c for c in tables.weekly.columns if c.startswith("n_")]
    assert n_columns == ["n_events", *(f"n_{g}" for g in groups)]
    totals = events.filter(pl.col("reported_at") >= datetime(2024, 1, 1))
    for group in groups:
        assert tables.weekly[f"n_{group}"].sum() == totals.filter(pl.col("risk_group") == group).height
    assert tables.reports["confidence"].null_count() == tables.reports.height

    out = tables.write(tmp_path / "tables")
    written = json.loads((out / SITE_FILE).read_text("utf-8"))
    assert [g["id"] for g in written["groups"]] == list(groups)
    assert written["groups"][0]["label"] == taxonomy.group_labels("en")[groups[0]]

    from serving.grid_store import GridStore

    store = GridStore.from_dir(out)
    assert list(store.groups) == list(groups)


def test_training_finds_a_one_group_panels_group(tmp_path):
    from training.train_risk import groups_with_events, split_by_weeks

    taxonomy, events = city(tmp_path, ONE_GROUP)
    panel = build_panel(events, GRIDS, neighbours_k=2, options=PanelOptions(risk_groups=taxonomy.risk_groups))
    train, test, _ = split_by_weeks(panel, test_weeks=4)
    assert groups_with_events(train) == ("theft",)
    assert test["week_start"].n_unique() == 4 and train["y_theft"].null_count() == 0
