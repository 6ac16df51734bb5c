"""The dashboard batch tables: the weekly window, the recent reports (redacted, classified) and the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl
import pytest

from batch.dashboard_tables import build_dashboard_tables, grid_weekly, next_monday
from features.text import TITLE_SEPARATOR
from serving.errors import UnknownGridError
from serving.grid_store import GridStore

PHONE = "13912345678"
HAZARD = ("安全隐患/消防安全/消防通道堵塞", "安全隐患", "消防安全", "消防通道堵塞", "消防救援站", "hazard")
DISPUTE = ("矛盾纠纷/邻里纠纷/噪音扰邻纠纷", "矛盾纠纷", "邻里纠纷", "噪音扰邻纠纷", "社区居委会", "dispute")


@dataclass
class Prediction:
    leaf_id: str
    category_l1: str
    category_l2: str
    category_l3: str
    department: str
    risk_group: str
    p_l3: float
    needs_review: bool


class KeywordClassifier:
    """消防 -> hazard, anything else -> dispute; remembers the texts it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def describe(self, texts, top_k=3, review_threshold=None, label_threshold=None):
        self.seen.extend(texts)
        return [
            Prediction(*HAZARD, 0.9, False) if "消防" in text else Prediction(*DISPUTE, 0.4, True)
            for text in texts
        ]


def events() -> pl.DataFrame:
    rows = [
        # grid, reported_at, l1, risk group, title, text
        ("G1", datetime(2024, 12, 30, 9), "矛盾纠纷", "dispute", None, "楼上吵闹"),  # 52 weeks before: in
        ("G1", datetime(2024, 12, 29, 9), "矛盾纠纷", "dispute", None, "太早了"),  # 53 weeks before: out
        ("G1", datetime(2025, 12, 22, 8), "安全隐患", "hazard", "消防通道", f"堵死了，电话{PHONE}"),
        ("G1", datetime(2025, 12, 23, 8), "安全隐患", "hazard", None, "消防栓坏了"),
        ("G1", datetime(2025, 12, 24, 8), "矛盾纠纷", "dispute", None, "邻居吵架"),
        ("G2", datetime(2025, 12, 28, 23), "城市管理", "none", None, "路灯不亮"),
    ]
    frame = pl.DataFrame(
        rows, schema=["grid_id", "reported_at", "category_l1", "risk_group", "title", "text"], orient="row"
    )
    return frame.with_columns(
        event_id=pl.format("E{}", pl.int_range(pl.len())), channel=pl.lit("hotline"), status=pl.lit("open")
    )


def grids() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "grid_id": ["G1", "G2", "G3"],
            "district": ["东城区", "西湖区", "西湖区"],
            "community": ["甲社区", "乙社区", "丙社区"],
            "x_m": [0.0, 600.0, 0.0],
            "y_m": [0.0, 0.0, 600.0],
            "population": [1000, 2000, 1500],
        }
    )


def test_forecast_week_is_the_monday_after_the_last_event():
    assert next_monday(datetime(2025, 12, 28, 23)) == date(2025, 12, 29)
    assert next_monday(datetime(2025, 12, 22, 0)) == date(2025, 12, 29)


def test_weekly_counts_cover_exactly_the_window_before_the_forecast_week():
    weekly = grid_weekly(events(), date(2025, 12, 29), weeks=52)
    assert weekly.get_column("week_start").min() == date(2024, 12, 30)
    last = weekly.filter(pl.col("grid_id") == "G1", pl.col("week_start") == date(2025, 12, 22))
    assert last.sort("category_l1").select("category_l1", "n_events", "n_dispute", "n_hazard").rows() == [
        ("安全隐患", 2, 0, 2),
        ("矛盾纠纷", 1, 1, 0),
    ]
    assert weekly.get_column("n_events").sum() == 5  # the event 53 weeks back is left out


def test_recent_reports_are_redacted_classified_and_limited_per_grid():
    classifier = KeywordClassifier()
    tables = build_dashboard_tables(events(), grids(), classifier, model_version="7", reports_per_grid=2)
    reports = tables.reports
    g1 = reports.filter(pl.col("grid_id") == "G1")
    assert g1.get_column("text").to_list() == ["邻居吵架", "消防栓坏了"], "the two newest, newest first"
    assert reports.filter(pl.col("grid_id") == "G2").height == 1
    assert set(reports.get_column("model_version")) == {"7"}
    hazard = g1.filter(pl.col("risk_group") == "hazard").row(0, named=True)
    assert (hazard["department"], hazard["confidence"], hazard["needs_review"]) == ("消防救援站", 0.9, False)

    older = build_dashboard_tables(events(), grids(), KeywordClassifier(), reports_per_grid=5).reports
    redacted = older.filter(pl.col("title") == "消防通道").get_column("text").item()
    assert PHONE not in redacted and "<PHONE>" in redacted


def test_the_classifier_sees_title_and_text_as_serving_builds_them():
    classifier = KeywordClassifier()
    build_dashboard_tables(events(), grids(), classifier, reports_per_grid=5)
    assert f"消防通道{TITLE_SEPARATOR}堵死了，电话{PHONE}" in classifier.seen
    assert "邻居吵架" in classifier.seen


def test_store_reads_what_the_batch_wrote(tmp_path):
    build_dashboard_tables(events(), grids(), KeywordClassifier(), model_version="7").write(tmp_path)
    store = GridStore.from_dir(tmp_path)
    assert len(store.weeks) == 52 and store.weeks[-1] == date(2025, 12, 22)
    assert store.forecast_week == date(2025, 12, 29)
    by_id = {grid["grid_id"]: grid for grid in store.grids}
    assert set(by_id) == {"G1", "G2", "G3"}
    assert by_id["G1"]["attributes"] == {"population": 1000}
    assert len(by_id["G1"]["polygon"]) >= 3

    activity = store.activity("G1")
    assert len(activity["hazard"]) == 52 and activity["hazard"][-1] == 2 and sum(activity["dispute"]) == 2
    assert [category["category_l1"] for category in activity["categories"]] == ["安全隐患", "矛盾纠纷"]
    assert store.activity("G3")["total"] == [0] * 52, "a grid without events has zero weeks, not an error"

    weekly = store.weekly_counts(2)
    assert weekly["weeks"] == [date(2025, 12, 15), date(2025, 12, 22)]
    totals = {row["grid_id"]: row["total"] for row in weekly["grids"]}
    assert totals == {"G1": [0, 3], "G2": [0, 1], "G3": [0, 0]}

    assert [report["text"] for report in store.reports("G1", limit=1)] == ["邻居吵架"]
    assert store.text_model == {"name": "gridsense-text", "version": "7"}
    with pytest.raises(UnknownGridError):
        store.reports("G9", limit=3)


def test_without_a_text_model_the_reports_keep_the_logs_categories(tmp_path):
    from batch.dashboard_tables import write_dashboard_tables_from_registry
    from core.registry import TEXT_EXPERIMENT
    from core.tables import SITE_FILE
    from features.taxonomy import load_taxonomy
    from training.tracking import use_local_store

    use_local_store(tmp_path, TEXT_EXPERIMENT)  # an empty registry
    taxonomy = load_taxonomy()
    paths = {leaf.risk_group: leaf for leaf in taxonomy.leaves}
    log = events().with_columns(
        category_l2=pl.col("risk_group").replace_strict({g: leaf.l2 for g, leaf in paths.items()}),
        category_l3=pl.col("risk_group").replace_strict({g: leaf.l3 for g, leaf in paths.items()}),
        category_l1=pl.col("risk_group").replace_strict({g: leaf.l1 for g, leaf in paths.items()}),
    )
    log.drop("risk_group").write_parquet(tmp_path / "events.parquet")
    grids().write_parquet(tmp_path / "grids.parquet")
    tables = write_dashboard_tables_from_registry(
        tmp_path / "events.parquet", tmp_path / "grids.parquet", tmp_path / "out", language="en"
    )
    reports = tables.reports
    assert reports["confidence"].null_count() == reports.height and set(reports["category_source"]) == {"log"}
    expected = {g: leaf.id for g, leaf in paths.items()}
    assert all(expected[row["risk_group"]] == row["leaf_id"] for row in reports.iter_rows(named=True))
    assert tables.meta["text_model_version"] is None and tables.meta["groups"] == ["dispute", "hazard"]
    assert json.loads((tmp_path / "out" / SITE_FILE).read_text("utf-8")) == {
        "site": "demo",
        "language": "en",
        "groups": [{"id": "dispute", "label": "Disputes"}, {"id": "hazard", "label": "Safety hazards"}],
        "map_metric": "probability",
    }


def test_reports_without_text_keep_the_log_category_beside_classified_ones():
    classifier = KeywordClassifier()
    log = events().with_columns(
        text=pl.when(pl.col("text") == "邻居吵架").then(None).otherwise(pl.col("text")),
        leaf_id=pl.lit("log/leaf"),
        department=pl.lit("log dept"),
    )
    reports = build_dashboard_tables(log, grids(), classifier, model_version="7").reports
    untexted = reports.filter(pl.col("text").is_null()).row(0, named=True)
    assert (untexted["leaf_id"], untexted["confidence"], untexted["category_source"]) == (
        "log/leaf",
        None,
        "log",
    )
    assert (untexted["model_version"], untexted["needs_review"]) == (None, False)
    classified = reports.filter(pl.col("text").is_not_null())
    assert set(classified["category_source"]) == {"model"} and classified["confidence"].null_count() == 0
    assert set(classified["model_version"]) == {"7"} and "" not in classifier.seen


def test_weekly_counts_one_column_per_site_group():
    log = events().with_columns(
        risk_group=pl.col("risk_group").replace({"dispute": "theft", "hazard": "fire", "none": "none"})
    )
    weekly = grid_weekly(log, date(2025, 12, 29), weeks=52)
    assert weekly.columns == ["grid_id", "week_start", "category_l1", "n_events", "n_fire", "n_theft"]
    theft_only = grid_weekly(log, date(2025, 12, 29), weeks=52, groups=("theft",))
    assert [c for c in theft_only.columns if c.startswith("n_")] == ["n_events", "n_theft"]
    assert theft_only["n_theft"].sum() == 2


def test_site_description_labels_the_groups_in_the_language():
    from batch.dashboard_tables import site_description

    assert site_description("demo", "zh", ["dispute", "hazard"])["groups"] == [
        {"id": "dispute", "label": "矛盾纠纷"},
        {"id": "hazard", "label": "安全隐患"},
    ]
    assert site_description("chicago", "en", ["theft"], map_metric="relative")["groups"] == [
        {"id": "theft", "label": "theft"}
    ]
    with pytest.raises(ValueError, match="map_metric"):
        site_description("demo", "zh", ["dispute"], map_metric="heat")
    with pytest.raises(ValueError, match="language"):
        site_description("demo", "fr", ["dispute"])
