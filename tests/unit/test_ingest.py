"""Generic ingest: the three adapters on small frames built here, plus a smoke test on the real files."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from core.errors import DataFileError
from features.ingest import (
    EVENT_SCHEMA,
    UNIT_SCHEMA,
    chicago,
    gridsense,
    ingest,
    load_adapter_config,
    panel_from_log,
    sweden,
)
from features.ingest.config import config_from_dict, normalise_category

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


# ---- configs ---------------------------------------------------------------------------------------------
def test_bundled_configs_load_with_their_groups():
    assert load_adapter_config("chicago").groups == ("dispute",)
    assert load_adapter_config("sweden").groups == ("dispute", "hazard")
    gridsense_config = load_adapter_config("gridsense")
    assert gridsense_config.uses_taxonomy and gridsense_config.groups == ()  # the taxonomy's, once loaded
    assert load_adapter_config("chicago").group_specs()[0].label("en") == "Battery and assault"


def test_a_config_maps_categories_to_the_sites_own_groups():
    config = config_from_dict(
        {
            "name": "x",
            "source": {},
            "place": {"kind": "latlon"},
            "risk_groups": {"theft": ["THEFT"], "violence": ["BATTERY"]},
            "group_labels": {"theft": {"zh": "盗窃", "en": "Theft"}},
        }
    )
    assert config.groups == ("theft", "violence")
    assert [(g.id, g.label("zh")) for g in config.group_specs()] == [
        ("theft", "盗窃"),
        ("violence", "violence"),
    ]
    assert config.category_groups() == {"theft": "theft", "battery": "violence"}


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"risk_groups": {"Theft": ["THEFT"]}}, "must be lower-case"),
        ({"risk_groups": {"theft": ["THEFT"]}, "groups": ["fire"]}, "groups ['fire'] are not mapped"),
        ({"risk_groups": {"theft": ["THEFT"]}, "group_labels": {"theft": {"fr": "vol"}}}, "group_labels of"),
    ],
)
def test_bad_group_names_in_a_config_are_one_line_errors(changes: dict, fragment: str):
    with pytest.raises(DataFileError, match=re.escape(fragment)):
        config_from_dict({"name": "x", "source": {}, "place": {"kind": "latlon"}, **changes})


def test_category_names_match_ignoring_case_commas_and_spaces():
    assert normalise_category("Misshandel, grov") == normalise_category("misshandel  grov")
    groups = load_adapter_config("sweden").category_groups()
    assert groups[normalise_category("Farligt föremål, misstänkt")] == "hazard"
    assert normalise_category("Trafikolycka") not in groups


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="place.kind"):
        config_from_dict({"name": "x", "source": {}, "place": {"kind": "h3"}, "risk_groups": {}})
    with pytest.raises(ValueError, match="lacks"):
        config_from_dict({"name": "x", "source": {}, "place": {"kind": "unit"}})
    with pytest.raises(ValueError, match="unknown adapter"):
        load_adapter_config("no-such-adapter")
    with pytest.raises(ValueError, match="cell"):
        load_adapter_config("sweden").with_cell_size(500)


# ---- lat/lon cells (Chicago) -----------------------------------------------------------------------------
def chicago_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Date": [
                "01/04/2016 10:00:00 PM",  # 22:00
                "01/05/2016 01:30:00 AM",
                "01/05/2016 02:00:00 PM",
                "13/45/2016 01:00:00 AM",  # unparseable
                "01/06/2016 09:00:00 AM",
                "01/07/2016 09:00:00 AM",
            ],
            "Primary Type": ["BATTERY", "THEFT", "ASSAULT", "BATTERY", "BATTERY", "ASSAULT"],
            # origin 41.60/-87.95: one degree of latitude is ~111.2 km, so 0.0045 deg ~ 500 m north
            "Latitude": ["41.6045", "41.6045", "41.6145", "41.70", None, "36.0"],
            "Longitude": ["-87.9490", "-87.9490", "-87.9490", "-87.90", "-87.90", "-87.90"],
        }
    )


def test_chicago_cells_groups_and_rejects():
    log = chicago.from_frame(load_adapter_config("chicago"), chicago_frame())
    events = log.events
    assert list(events.schema) == list(EVENT_SCHEMA)
    assert log.rejects == {"unparseable time": 1, "missing coordinates": 1, "outside the area": 1}
    assert events.height == 3
    by_id = {row["event_id"]: row for row in events.iter_rows(named=True)}
    assert by_id["r1"]["reported_at"] == datetime(2016, 1, 4, 22, 0)
    assert by_id["r1"]["risk_group"] == "dispute" and by_id["r2"]["risk_group"] == "none"
    assert by_id["r1"]["unit_id"] == by_id["r2"]["unit_id"] == "c0000_0000"  # ~80 m east, ~500 m north
    assert by_id["r3"]["unit_id"] == "c0000_0001"  # ~1.6 km north: the next cell up
    assert by_id["r1"]["parent_area"] == by_id["r3"]["parent_area"] == "b0_0"


def test_a_one_group_adapters_panel_labels_that_group_only():
    from features.panel import panel_groups

    panel = panel_from_log(chicago.from_frame(load_adapter_config("chicago"), chicago_frame()))
    assert panel_groups(panel) == ("dispute",)
    assert not [c for c in panel.columns if "hazard" in c or c.startswith("co_")]


def test_cell_size_is_configurable_and_units_sit_at_cell_centres():
    config = load_adapter_config("chicago").with_cell_size(2000)
    log = chicago.from_frame(config, chicago_frame())
    assert log.events["unit_id"].unique().to_list() == ["c0000_0000"]  # 500 m and 1.6 km: one 2 km cell
    assert log.units.columns[:4] == list(UNIT_SCHEMA)
    assert log.units.row(0, named=True) == {
        "unit_id": "c0000_0000",
        "x_m": 1000.0,
        "y_m": 1000.0,
        "parent_area": "b0_0",
    }


# ---- named areas (Sweden) --------------------------------------------------------------------------------
AREAS = pl.DataFrame(
    {
        "municipality_code": ["0180", "0114", "0380", "0381", "0980"],
        "municipality_name": ["Stockholm", "Upplands Väsby", "Uppsala", "Enköping", "Gotland"],
        "county_code": ["01", "01", "03", "03", "09"],
        "county_name": ["Stockholms län", "Stockholms län", "Uppsala län", "Uppsala län", "Gotlands län"],
    }
)


def sweden_frame() -> pl.DataFrame:
    rows = [
        (1, "Misshandel, grov", "Stockholm", "Bråk på krog", 59.33, 18.06),
        (2, "Brand", "Upplands väsby", "Brand i lägenhet", 59.52, 17.91),  # lower-case "väsby" in the feed
        (3, "Sammanfattning natt", "Stockholms län", "Nattens händelser", 59.3, 18.0),
        (4, "Olaga hot", "Uppsala län", "En man hotade en granne i Uppsala.", 59.8, 17.6),
        (5, "Misshandel", "Stockholms län", "Kvinna misshandlad i en av länets kommuner", 59.3, 18.0),
        (6, "Brand", "Gotlands län", "Brand i Visby", 57.6, 18.3),
        (7, "Trafikolycka", "Uppsala län", "Olycka på E4 i Uppsala län", 59.8, 17.6),
        (8, "Stöld", "Atlantis", "?", 0.0, 0.0),
    ]
    return pl.DataFrame(
        {
            "id": [r[0] for r in rows],
            "datetime_local": [datetime(2025, 3, 3 + i, 12) for i in range(len(rows))],
            "type": [r[1] for r in rows],
            "location_name": [r[2] for r in rows],
            "name": [f"{r[1]}, {r[2]}" for r in rows],
            "summary": [r[3] for r in rows],
            "lat": [r[4] for r in rows],
            "lon": [r[5] for r in rows],
        }
    )


@pytest.fixture(scope="module")
def sweden_log():
    return sweden.from_frames(load_adapter_config("sweden"), sweden_frame(), AREAS)


def test_sweden_units_parents_and_groups(sweden_log):
    events = {row["event_id"]: row for row in sweden_log.events.iter_rows(named=True)}
    assert sweden_log.rejects == {"unknown area": 1, "skipped category": 1}
    assert set(events) == {"1", "2", "4", "5", "6", "7"}
    assert (events["1"]["unit_id"], events["1"]["parent_area"], events["1"]["risk_group"]) == (
        "Stockholm",
        "Stockholms län",
        "dispute",
    )
    assert events["2"]["unit_id"] == "Upplands Väsby" and events["2"]["risk_group"] == "hazard"
    assert events["7"]["risk_group"] == "none"


def test_county_rows_get_a_municipality_only_when_the_text_names_one(sweden_log):
    events = {row["event_id"]: row for row in sweden_log.events.iter_rows(named=True)}
    assert events["4"]["unit_id"] == "Uppsala"  # "... i Uppsala." names the municipality
    assert events["5"]["unit_id"] is None and events["5"]["parent_area"] == "Stockholms län"
    assert events["6"]["unit_id"] == "Gotland"  # the county has one municipality
    assert events["7"]["unit_id"] is None  # "Uppsala län" is the county's own name, not the municipality


def test_sweden_text_rules_and_units(sweden_log):
    categories = dict(sweden_log.events.select("event_id", "text_category").iter_rows())
    assert categories["1"] == "nojen" and categories["2"] == "bostad"
    assert sweden_log.units["unit_id"].to_list() == sorted(AREAS["municipality_name"].to_list())
    stockholm = sweden_log.units.filter(pl.col("unit_id") == "Stockholm").row(0, named=True)
    uppsala = sweden_log.units.filter(pl.col("unit_id") == "Uppsala").row(0, named=True)
    assert uppsala["y_m"] > stockholm["y_m"]  # Uppsala lies north of Stockholm


def test_categories_put_mapped_ones_first_then_the_most_frequent(sweden_log):
    categories = sweden_log.categories()
    mapped = {"Misshandel, grov", "Brand", "Olaga hot", "Misshandel"}
    assert set(categories[: len(mapped)]) == mapped
    assert categories[len(mapped) :] == ["Trafikolycka"]


# ---- GridSense schema --------------------------------------------------------------------------------------
def test_gridsense_adapter_uses_the_taxonomy_and_the_grids():
    raw = pl.DataFrame(
        {
            "event_id": ["e1", "e2", "e3"],
            "reported_at": ["2024-03-04 10:00:00", "2024-03-05 10:00:00", "2024-03-06 10:00:00"],
            "grid_id": ["G1", "G2", "G9"],
            "channel": ["hotline", "app", "app"],
            "text": ["楼上邻居半夜吵架", "楼道里堆满杂物", "路灯坏了"],
            "category_l1": ["矛盾纠纷", "安全隐患", "城市管理"],
        }
    )
    from features.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    leaves = {leaf.l1: leaf for leaf in taxonomy.leaves}
    raw = raw.with_columns(
        pl.Series("category_l2", [leaves[c].l2 for c in raw["category_l1"]]),
        pl.Series("category_l3", [leaves[c].l3 for c in raw["category_l1"]]),
    )
    grids = pl.DataFrame(
        {
            "grid_id": ["G1", "G2"],
            "x_m": [0.0, 100.0],
            "y_m": [0.0, 0.0],
            "district": ["东城区", "西湖区"],
            "population": [10, 20],
        }
    )
    log = gridsense.from_frames(
        load_adapter_config("gridsense"),
        raw,
        grids,
        taxonomy,
        text_classifier=lambda texts: ["T"] * len(texts),
    )
    assert log.rejects == {"unknown grid": 1}
    assert log.groups == ("dispute", "hazard")  # the taxonomy's
    assert log.events["risk_group"].to_list() == [
        leaves["矛盾纠纷"].risk_group,
        leaves["安全隐患"].risk_group,
    ]
    assert log.events["parent_area"].to_list() == ["东城区", "西湖区"]
    assert log.events["text_category"].to_list() == ["T", "T"]
    assert "population" in log.units.columns and log.units["parent_area"].to_list() == ["东城区", "西湖区"]


def test_panel_from_a_log_carries_parent_and_text_features(sweden_log):
    panel = panel_from_log(sweden_log)
    assert panel.select("grid_id").unique().height == 5
    assert any(c.startswith("parent_dispute_") for c in panel.columns)
    assert any(c.startswith("cnt_txt_") for c in panel.columns)
    assert "spring_festival_week" not in panel.columns and "holiday_days" in panel.columns


# ---- the real files (skipped without ../shared/data) ------------------------------------------------------
@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is absent")
def test_real_logs_ingest():
    chicago_log = ingest("chicago", SHARED / "chicago_crime_2016_2017" / "chicago_crime_visible.csv.gz")
    assert 500 <= chicago_log.units.height <= 800
    assert set(chicago_log.events["risk_group"].unique()) == {"dispute", "none"}
    sweden_log = ingest("sweden", SHARED / "sweden_police_events_2023_2026" / "events_visible.parquet")
    assert sweden_log.units.height == 290
    assert sweden_log.rejects.get("skipped category", 0) > 10_000
    assert sweden_log.events.filter(pl.col("risk_group") == "hazard").height > 3_000
