"""Hot issues: places in texts, clustering one problem in one place, the heat ranking, B-cubed, the job."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from batch.hot_issues import benchmark_hot_issues, read_reports, run_hot_issues, valid_reports, windows
from core.errors import DataFileError
from core.tables import HOT_ISSUE_REPORTS_FILE, HOT_ISSUES_FILE
from models.hot_issues import bcubed, cluster_reports, hot_issues, places

T0 = datetime(2025, 3, 3, 9)


def _reports(rows: list[tuple]) -> pl.DataFrame:
    """(event_id, hours after T0, reporter, title, text[, likes])"""
    return pl.DataFrame(
        {
            "event_id": [r[0] for r in rows],
            "reported_at": [T0 + timedelta(hours=r[1]) for r in rows],
            "reporter_id": [r[2] for r in rows],
            "title": [r[3] for r in rows],
            "text": [r[4] for r in rows],
            "likes": [r[5] if len(r) > 5 else 0 for r in rows],
        }
    )


LIGHTS = "小区的路灯坏了一个多星期，晚上一片漆黑，老人出门很危险，请尽快修理"
BOARD = _reports(
    [
        ("1", 0, "u1", "桂花苑路灯不亮", f"桂花苑{LIGHTS}", 5),
        ("2", 5, "u2", "桂花苑路灯坏了", f"我们桂花苑{LIGHTS}，电话13812345678", 2),
        ("3", 30, "u3", "桂花苑路灯何时修", f"桂花苑{LIGHTS}，已经反映过了", 0),
        ("4", 2, "u4", "翠苑新村路灯不亮", f"翠苑新村{LIGHTS}", 0),
        ("5", 8, "u4", "翠苑新村路灯坏了", f"翠苑新村{LIGHTS}", 0),
        ("6", 3, "u5", "占道经营", "文晖路菜市场门口的摊贩把人行道全占了，行人只能走机动车道", 0),
        ("7", 24 * 60, "u6", "桂花苑路灯不亮", f"桂花苑{LIGHTS}", 0),
    ]
)


def test_places_finds_estates_and_roads_and_ignores_generic_words() -> None:
    found = places("我家住在A3区联丰路米兰春天G2栋，小区门口")
    assert any(p.endswith("联丰路") for p in found) and any(p.endswith("G2栋") for p in found)
    assert "小区" not in found and places("") == frozenset()


def test_one_problem_in_one_place_is_one_cluster_and_another_place_is_another() -> None:
    labels = cluster_reports(BOARD)
    assert labels[0] == labels[1] == labels[2]  # 桂花苑, three reporters, other wording
    assert labels[3] == labels[4] != labels[0]  # same template, another estate: another issue
    assert len({labels[5], labels[0], labels[3]}) == 3
    assert labels[6] != labels[0]  # two months later: beyond max_gap_days


def test_grid_blocks_and_categories_join() -> None:
    frame = BOARD.head(3).with_columns(grid_id=pl.Series(["G1", "G2", "G1"]))
    labels = cluster_reports(frame)
    assert labels[0] == labels[2] != labels[1]


def test_issues_are_ranked_by_heat_with_titles_places_and_redacted_members() -> None:
    issues, members = hot_issues(BOARD.head(6))
    assert issues["rank"].to_list() == [1, 2] and issues["issue_id"].to_list() == ["H0001", "H0002"]
    top = issues.row(0, named=True)
    assert top["n_reports"] == 3 and top["n_reporters"] == 3 and top["likes"] == 7
    assert "桂花苑" in top["title"] and top["place"] == "桂花苑"
    assert top["heat"] > issues.row(1, named=True)["heat"]  # more reporters and likes
    assert top["concentration"] == 1.0 and 0 <= top["growth"] <= 2
    assert sorted(top["member_ids"]) == ["1", "2", "3"]
    assert set(members["issue_id"]) == {"H0001", "H0002"} and members.height == 5
    assert not members["text"].str.contains("13812345678").any()


def test_growth_is_lower_when_the_previous_window_had_the_same_problem() -> None:
    now = BOARD.head(3)
    before = BOARD.head(3).with_columns(pl.col("event_id") + "b", pl.col("reported_at") - timedelta(days=7))
    fresh = hot_issues(now)[0]["growth"][0]
    known = hot_issues(now, previous=before)[0]["growth"][0]
    assert known < fresh


def test_bcubed_counts_precision_and_recall_per_item() -> None:
    perfect = bcubed(np.array(["a", "a", "b"]), np.array([1, 1, 2]))
    assert perfect["bcubed_f1"] == pytest.approx(1.0)
    merged = bcubed(np.array(["a", "a", "b"]), np.array([1, 1, 1]))
    assert merged["bcubed_recall"] == pytest.approx(1.0)
    assert merged["bcubed_precision"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    split = bcubed(np.array(["a", "a"]), np.array([1, 2]))
    assert split["bcubed_precision"] == 1.0 and split["bcubed_recall"] == pytest.approx(0.5)


def test_the_job_reads_a_message_board_csv_and_writes_the_tables(tmp_path: Path) -> None:
    board = tmp_path / "board.csv"
    pl.DataFrame(
        {
            "留言编号": BOARD["event_id"],
            "留言用户": BOARD["reporter_id"],
            "留言主题": BOARD["title"],
            "留言时间": BOARD["reported_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "留言详情": BOARD["text"],
            "反对数": [0] * BOARD.height,
            "点赞数": BOARD["likes"],
        }
    ).write_csv(board)
    reports = read_reports(board)
    assert reports["likes"].sum() == 7 and reports.schema["reported_at"] == pl.Datetime("us")
    current, previous = windows(reports, 7, T0 + timedelta(days=7))
    assert current.height == 6 and previous.is_empty()
    issues, _ = run_hot_issues(reports, tmp_path / "tables", window_days=0)
    assert pl.read_parquet(tmp_path / "tables" / HOT_ISSUES_FILE).height == issues.height > 0
    assert (tmp_path / "tables" / HOT_ISSUE_REPORTS_FILE).exists()
    with pytest.raises(DataFileError):
        read_reports(tmp_path / "missing.csv")


def test_invalid_reports_are_left_out_by_ground_truth() -> None:
    frame = BOARD.with_columns(invalid_reason=pl.Series([None, "test", None, None, None, None, None]))
    kept, how = valid_reports(frame)
    assert kept.height == 6 and "invalid_reason" in how


def test_benchmark_scores_the_demo_citys_incidents(tmp_path: Path) -> None:
    from demo_city import generate_demo_city

    city = generate_demo_city(tmp_path, seed=4, n_grids=40, weeks=20)
    report = benchmark_hot_issues(pl.read_parquet(city.events_path))
    assert report["with_category"]["bcubed_f1"] > 0.8
    assert report["text_place_grid_only"]["bcubed_precision"] > 0.9
    with pytest.raises(DataFileError, match="incident_id"):
        benchmark_hot_issues(pl.read_parquet(city.events_path).drop("incident_id"))


def test_the_command_works_for_a_site_its_log_and_its_dashboard_tables(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.app import app
    from core.sites import SiteFile, write_site_file

    BOARD.write_parquet(tmp_path / "town_events.parquet")
    write_site_file(tmp_path, "town", SiteFile(events=tmp_path / "town_events.parquet"))
    env = {"GRIDSENSE_HOME": str(tmp_path)}
    arguments = ["hot-issues", "--site", "town", "--window-days", "0", "--no-invalid-model"]
    result = CliRunner().invoke(app, arguments, env=env)
    assert result.exit_code == 0, result.output
    tables = tmp_path / "datasets" / "town" / "serving"
    assert pl.read_parquet(tables / HOT_ISSUES_FILE).height > 0, "written where the site's API reads them"

    write_site_file(tmp_path, "notext", SiteFile())
    refused = CliRunner().invoke(app, ["hot-issues", "--site", "notext"], env=env)
    assert refused.exit_code != 0 and "has no event log" in refused.output
