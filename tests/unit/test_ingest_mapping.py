"""`gridsense ingest`: mapping files (named areas, the city's grid table, cells), the canonical files it
writes, and the command itself, on small frames built here; the Sweden example mapping on the real log."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from cli.app import app
from features.events import load_events
from features.ingest import ingest, mapped
from features.ingest.canonical import NO_GRID, write_ingested
from features.ingest.config import config_from_dict
from features.panel import PanelOptions, build_panel, panel_groups
from features.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
SWEDEN_MAPPING = ROOT / "docs" / "examples" / "sweden_mapping.yaml"


def named_config(**source) -> dict:
    return {
        "name": "town",
        "source": {
            "id_column": "nr",
            "time_column": "when",
            "time_format": "%Y-%m-%d %H:%M %:z",
            "timezone": "Europe/Stockholm",
            "category_column": "kind",
            "text_columns": ["what"],
            "channel_column": "via",
            "skip_category_prefixes": ["Summary"],
            **source,
        },
        "place": {"kind": "named", "area_column": "area", "lat_column": "lat", "lon_column": "lon"},
        "risk_groups": {"dispute": ["Fight"], "hazard": ["Fire"]},
    }


def town_frame() -> pl.DataFrame:
    rows = [
        ("1", "2025-03-03 10:00 +00:00", "Fight", "North", "a fight", "hotline", "59.1", "18.0"),
        ("2", "2025-03-03 11:00 +01:00", "Fire", "North", "smoke", "", "59.2", "18.1"),
        ("3", "2025-03-04 09:00 +01:00", "Theft/Burglary", "South", "bike", "app", "59.0", "18.0"),
        ("4", "yesterday", "Fight", "South", "=HYPERLINK(x)", "app", "59.0", "18.0"),  # bad time
        ("5", "2025-03-05 09:00 +01:00", "Summary night", "North", "quiet", "app", "59.1", "18.0"),
        ("6", "2025-03-05 10:00 +01:00", "Fire", "", "where?", "app", "", ""),  # no area
        ("1", "2025-03-06 10:00 +01:00", "Fight", "North", "again", "app", "59.1", "18.0"),  # repeated id
    ]
    names = ["nr", "when", "kind", "area", "what", "via", "lat", "lon"]
    return pl.DataFrame(rows, schema=names, orient="row")


def test_named_areas_time_zone_channel_and_every_reject_with_its_reason():
    log = mapped.from_frames(config_from_dict(named_config()), town_frame())
    events = log.events
    assert events["event_id"].to_list() == ["1", "2", "3"]
    # 10:00 UTC is 11:00 in Stockholm (CET); "+01:00" times keep their wall time
    assert events["reported_at"].to_list()[:2] == [datetime(2025, 3, 3, 11), datetime(2025, 3, 3, 11)]
    assert events["unit_id"].to_list() == ["North", "North", "South"]
    assert events["channel"].to_list() == ["hotline", None, "app"]
    assert events["risk_group"].to_list() == ["dispute", "hazard", "none"]
    assert log.rejects == {
        "unparseable time": 1,
        "skipped category": 1,
        "missing area": 1,
        "duplicate id": 1,
    }
    rejected = dict(zip(log.rejected["source_row"], log.rejected["reject_reason"], strict=True))
    assert rejected == {4: "unparseable time", 5: "skipped category", 6: "missing area", 7: "duplicate id"}
    assert log.rejected["what"].to_list()[0] == "=HYPERLINK(x)"  # the original values, as read
    assert events.height + log.rejected.height == log.rows_read == 7
    north = log.units.filter(pl.col("unit_id") == "North").row(0, named=True)
    assert north["lat"] == pytest.approx(59.15) and north["lon"] == pytest.approx(18.05)


def test_written_files_pass_the_event_contract_and_build_a_panel(tmp_path: Path):
    log = mapped.from_frames(config_from_dict(named_config()), town_frame())
    written = write_ingested(log, tmp_path)
    assert (written.rows_read, written.accepted, written.rejected) == (7, 3, 4)
    events = pl.read_parquet(written.paths["events"])
    assert events["channel"].to_list() == ["hotline", "unknown", "app"]
    assert events["category_l1"][2] == "Theft\uff0fBurglary"  # "/" is the taxonomy's id separator
    taxonomy = load_taxonomy(written.paths["taxonomy"])
    loaded = load_events(written.paths["events"], taxonomy)
    assert loaded.rejects.is_empty() and loaded.events["risk_group"].to_list() == [
        "dispute",
        "hazard",
        "none",
    ]
    grids = pl.read_parquet(written.paths["grids"])
    assert grids["grid_id"].to_list() == ["North", "South"] and "district" not in grids.columns
    panel = build_panel(loaded.events, grids, l1_categories=taxonomy.level1)
    assert panel["grid_id"].n_unique() == 2
    rejects_file = written.paths["rejects"]
    assert os.stat(rejects_file).st_mode & 0o777 == 0o600
    rejects = pl.read_csv(rejects_file, infer_schema=False)
    assert rejects.height == 4 and rejects["reject_reason"].null_count() == 0
    assert rejects["what"][0].startswith("'=")  # formula-escaped for spreadsheets


def test_category_map_and_path_columns():
    config = named_config(category_map={"Fight": ["Violence", "Fight"], "Fire": "Fire"})
    log = mapped.from_frames(config_from_dict(config), town_frame())
    assert log.rejects["category not in category_map"] == 1  # Theft/Burglary
    fight = log.events.filter(pl.col("event_id") == "1").row(0, named=True)
    assert (fight["category"], fight["category_l2"], fight["risk_group"]) == ("Violence", "Fight", "dispute")
    path = named_config(category_column=None, category_columns=["kind", "what"])
    log = mapped.from_frames(config_from_dict(path), town_frame())
    assert log.events.filter(pl.col("event_id") == "2").row(0, named=True)["category_l2"] == "smoke"
    with pytest.raises(ValueError, match="category_map"):
        mapped.from_frames(config_from_dict(named_config(category_map={"Fight": [1, 2, 3, 4]})), town_frame())


def grid_table() -> pl.DataFrame:
    return pl.DataFrame({"id": ["A", "B"], "lat": [59.0, 59.1], "lon": [18.0, 18.0], "ward": ["W1", "W2"]})


def test_points_go_to_the_nearest_grid_of_the_citys_table():
    config = named_config()
    config["place"] = {"kind": "grid_table", "grid_id_column": "id", "grid_parent_column": "ward",
                       "max_distance_m": 8_000}  # fmt: skip
    frame = town_frame().with_columns(
        pl.Series("lat", ["59.09", "59.01", "59.5", "59.0", "59.0", "", "59.0"])
    )
    log = mapped.from_frames(config_from_dict(config), frame, grid_table())
    assert log.events["unit_id"].to_list() == ["B", "A"]  # event 3 is ~45 km from both
    assert log.events["parent_area"].to_list() == ["W2", "W1"]
    assert log.rejects["farther than max_distance_m from every grid"] == 1
    assert log.rejects["missing coordinates"] == 1
    assert log.units["unit_id"].to_list() == ["A", "B"]


def test_events_that_name_their_grid_are_checked_against_the_table():
    config = named_config()
    config["place"] = {"kind": "grid_table", "grid_id_column": "id", "grid_column": "area"}
    frame = town_frame().with_columns(pl.Series("area", ["A", "B", "Z", "A", "A", "A", "A"]))
    log = mapped.from_frames(config_from_dict(config), frame, grid_table())
    # event 6 has no position but names its grid: placed all the same
    assert log.events["unit_id"].to_list() == ["A", "B", "A"] and log.rejects["unknown grid"] == 1


def test_lat_lon_cells_through_a_mapping_file():
    config = named_config()
    config["place"] = {"kind": "latlon", "lat_column": "lat", "lon_column": "lon", "cell_size_m": 5000}
    log = mapped.from_frames(config_from_dict(config), town_frame())
    assert log.rejects["missing coordinates"] == 1
    assert log.events["unit_id"].n_unique() == log.units.height == 3  # 59.0 / 59.1 / 59.2: 11 km apart


# ---- the command -------------------------------------------------------------------------------------
runner = CliRunner()


def test_ingest_command_writes_the_files_and_prints_the_counts(tmp_path: Path):
    events = tmp_path / "town.csv"
    town_frame().write_csv(events)
    mapping = tmp_path / "town.yaml"
    mapping.write_text(yaml.safe_dump(named_config()), encoding="utf-8")
    result = runner.invoke(
        app, ["ingest", str(events), "--mapping", str(mapping), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert "read 7 rows: accepted 3, rejected 4" in result.output
    assert "--taxonomy" in result.output and (tmp_path / "o" / "events.parquet").is_file()
    both = runner.invoke(app, ["ingest", str(events), "--adapter", "chicago", "--mapping", str(mapping),
                               "--out", str(tmp_path)])  # fmt: skip
    assert both.exit_code == 2 and "either --adapter" in both.stderr
    missing = runner.invoke(app, ["ingest", str(events), "--adapter", "chicago", "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "Date" in missing.stderr  # the adapter's columns are not in the file


def test_parent_only_rows_are_rejected_in_the_canonical_log(tmp_path: Path):
    """The Sweden adapter keeps county-level rows without a grid; the canonical log cannot."""
    log = mapped.from_frames(config_from_dict(named_config()), town_frame())
    orphan = log.events.head(1).with_columns(
        pl.lit(None, pl.String).alias("unit_id"), pl.lit("9").alias("event_id")
    )
    log.events = pl.concat([log.events, orphan])
    log.rows_read += 1
    written = write_ingested(log, tmp_path)
    assert written.reasons[NO_GRID] == 1 and written.accepted == 3 and written.rejected == 5


# ---- the real log (skipped without ../shared/data) -----------------------------------------------------
@pytest.mark.shared_data
@pytest.mark.skipif(
    not (SHARED / "sweden_police_events_2023_2026").exists(), reason="../shared/data is absent"
)
def test_sweden_example_mapping_on_the_real_log(tmp_path: Path):
    log = ingest(SWEDEN_MAPPING, SHARED / "sweden_police_events_2023_2026" / "events_visible.parquet")
    written = write_ingested(log, tmp_path)
    assert written.accepted + written.rejected == written.rows_read == log.rows_read
    assert written.reasons.get("skipped category", 0) > 10_000
    assert log.events["reported_at"].null_count() == 0
    loaded = load_events(written.paths["events"], load_taxonomy(written.paths["taxonomy"]))
    assert loaded.rejects.is_empty()
    assert loaded.events.filter(pl.col("risk_group") == "hazard").height > 3_000
    assert pl.read_parquet(written.paths["grids"]).height >= 290


def test_gridsense_adapter_writes_its_own_taxonomys_log_and_keeps_the_grid_attributes(tmp_path: Path):
    from features.ingest import gridsense
    from features.ingest.config import load_adapter_config

    taxonomy = load_taxonomy()
    leaf = next(leaf for leaf in taxonomy.leaves if leaf.risk_group == "dispute")
    raw = pl.DataFrame(
        {
            "event_id": ["e1", "e2"],
            "reported_at": ["2024-03-04 10:00:00", "2024-03-05 10:00:00"],
            "grid_id": ["G1", "G9"],
            "text": ["楼上邻居半夜吵架", "又吵起来了"],
            "category_l1": [leaf.l1] * 2,
            "category_l2": [leaf.l2] * 2,
            "category_l3": [leaf.l3] * 2,
        }
    )
    grids = pl.DataFrame(
        {"grid_id": ["G1"], "x_m": [0.0], "y_m": [0.0], "district": ["东城区"], "population": [9]}
    )
    log = gridsense.from_frames(load_adapter_config("gridsense"), raw, grids, taxonomy)
    written = write_ingested(log, tmp_path)
    assert (written.rows_read, written.accepted, written.rejected) == (2, 1, 1)
    assert "taxonomy" not in written.paths  # its own taxonomy already says the risk groups
    assert pl.read_csv(written.paths["rejects"])["reject_reason"].to_list() == ["unknown grid"]
    assert pl.read_parquet(written.paths["grids"]).columns == [
        "grid_id",
        "x_m",
        "y_m",
        "district",
        "population",
    ]
    loaded = load_events(written.paths["events"], taxonomy)
    assert loaded.events["channel"].to_list() == ["unknown"] and loaded.events["risk_group"][0] == "dispute"


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED / "chicago_crime_2016_2017").exists(), reason="../shared/data is absent")
def test_chicago_adapter_to_canonical_files(tmp_path: Path):
    log = ingest(
        "chicago", SHARED / "chicago_crime_2016_2017" / "chicago_crime_visible.csv.gz", cell_size_m=1000
    )
    written = write_ingested(log, tmp_path)
    assert written.accepted + written.rejected == written.rows_read == log.rows_read > 200_000
    taxonomy = load_taxonomy(written.paths["taxonomy"])
    assert {leaf.risk_group for leaf in taxonomy.leaves} == {"dispute", "none"}
    loaded = load_events(written.paths["events"], taxonomy)
    assert loaded.rejects.is_empty() and "text" not in pl.read_parquet(written.paths["events"]).columns
    grids = pl.read_parquet(written.paths["grids"])
    assert grids["grid_id"].n_unique() == grids.height == log.units.height
    assert set(loaded.events["grid_id"].unique()) <= set(grids["grid_id"])


def box(lon: float, lat: float, width: float, height: float) -> list:
    return [[[lon, lat], [lon + width, lat], [lon + width, lat + height], [lon, lat + height], [lon, lat]]]


def test_points_fall_in_the_polygons_of_a_geojson_grid_table(tmp_path: Path):
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": f"P{i}", "ward": "W"},
             "geometry": {"type": "Polygon", "coordinates": box(17.9, lat, 0.3, 0.15)}}
            for i, lat in enumerate((58.95, 59.1))
        ],
    }  # fmt: skip
    grids = tmp_path / "grids.geojson"
    grids.write_text(json.dumps(collection), encoding="utf-8")
    config = named_config()
    config["place"] = {"kind": "grid_table", "grids_file": "grids.geojson", "grid_id_column": "code",
                       "grid_parent_column": "ward"}  # fmt: skip
    frame = town_frame().with_columns(pl.Series("lat", ["59.12", "59.0", "59.5", "59.0", "59.0", "", "59.0"]))
    frame.write_csv(tmp_path / "town.csv")
    log = mapped.load(config_from_dict(config), tmp_path / "town.csv")
    assert log.events["unit_id"].to_list() == ["P1", "P0"]  # event 3 (59.5 N) is in neither box
    assert log.rejects["outside every grid polygon"] == 1 and log.rejects["missing coordinates"] == 1
    centre = log.units.filter(pl.col("unit_id") == "P0").row(0, named=True)
    assert centre["lat"] == pytest.approx(59.025) and centre["lon"] == pytest.approx(18.05)
    grids.write_text('{"features": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="no features"):
        mapped.load(config_from_dict(config), tmp_path / "town.csv")


def test_naive_times_in_another_zone_are_converted_and_a_dst_gap_is_a_reject():
    frame = town_frame().with_columns(
        pl.Series("when", ["2025-03-03 10:00", "2025-03-30 02:30", *["2025-03-04 10:00"] * 5])
    )
    config = named_config(time_format="%Y-%m-%d %H:%M", timezone="UTC", input_timezone="Europe/Stockholm")
    log = mapped.from_frames(config_from_dict(config), frame)
    assert log.events["reported_at"][0] == datetime(2025, 3, 3, 9)  # 10:00 CET is 09:00 UTC
    assert "2" not in log.events["event_id"].to_list()  # 02:30 did not exist in Stockholm that night
    assert log.rejects["unparseable time"] == 1


def test_ingest_then_validate_events_and_build_features_accept_the_files(tmp_path: Path):
    events = tmp_path / "town.csv"
    town_frame().write_csv(events)
    mapping = tmp_path / "town.yaml"
    mapping.write_text(yaml.safe_dump(named_config()), encoding="utf-8")
    out = tmp_path / "city"
    assert (
        runner.invoke(app, ["ingest", str(events), "--mapping", str(mapping), "--out", str(out)]).exit_code
        == 0
    )
    taxonomy = ["--taxonomy", str(out / "taxonomy.yaml")]
    checked = runner.invoke(app, ["validate-events", str(out / "events.parquet"), *taxonomy])
    assert checked.exit_code == 0 and "accepted 3 rows, rejected 0" in checked.output
    built = runner.invoke(
        app,
        ["build-features", "--events", str(out / "events.parquet"), "--grids", str(out / "grids.parquet"),
         "--out", str(tmp_path / "features"), *taxonomy],
    )  # fmt: skip
    assert built.exit_code == 0, built.output
    assert pl.read_parquet(tmp_path / "features" / "panel.parquet")["grid_id"].n_unique() == 2


def test_a_mapping_with_the_sites_own_groups_reaches_the_taxonomy_and_the_panel(tmp_path: Path):
    config = named_config()
    config["risk_groups"] = {"theft": ["Theft/Burglary"], "violence": ["Fight"], "fire": ["Fire"]}
    config["group_labels"] = {"theft": {"zh": "盗窃", "en": "Theft"}}
    log = mapped.from_frames(config_from_dict(config), town_frame())
    assert log.groups == ("theft", "violence", "fire")
    written = write_ingested(log, tmp_path)
    taxonomy = load_taxonomy(written.paths["taxonomy"])
    assert taxonomy.risk_groups == ("theft", "violence", "fire")
    assert taxonomy.group_labels("en") == {"theft": "Theft", "violence": "violence", "fire": "fire"}
    loaded = load_events(written.paths["events"], taxonomy)
    assert loaded.events["risk_group"].to_list() == ["violence", "fire", "theft"]
    grids = pl.read_parquet(written.paths["grids"])
    panel = build_panel(
        loaded.events, grids, options=PanelOptions(risk_groups=taxonomy.risk_groups, holiday_country=None)
    )
    assert panel_groups(panel) == ("theft", "violence", "fire")
    assert {"co_theft_violence_12w", "co_theft_fire_12w", "co_violence_fire_12w"} <= set(panel.columns)
