"""The demo-city duplicate benchmark replays a log with incident ids through intake's search."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from evaluation.duplicate_demo import run


def test_repeats_of_one_incident_are_found_and_counted(tmp_path):
    start = datetime(2026, 1, 1, 9)
    text = "英祥春天小区3号楼楼道堆满杂物，消防通道被堵死，请尽快处理。"
    rows = [
        ("e1", start, "G1", "英祥春天小区楼道堆物", text, "I1", None),
        ("e2", start + timedelta(days=20), "G1", "英祥春天小区消防通道堵塞", text, "I1", None),
        ("e3", start + timedelta(days=21), "G1", "英祥春天小区楼道堆物", text[:-4], "I1", None),
        ("e4", start + timedelta(days=21, hours=2), "G2", "路灯不亮", "和平路路灯坏了一个月。", "I2", None),
        ("e5", start + timedelta(days=21, hours=3), "G1", "测试", "ceshi", None, "test"),
    ]
    events = tmp_path / "events.parquet"
    pl.DataFrame(
        rows,
        schema=["event_id", "reported_at", "grid_id", "title", "text", "incident_id", "invalid_reason"],
        orient="row",
    ).write_parquet(events)
    grids = tmp_path / "grids.parquet"
    pl.DataFrame({"grid_id": ["G1", "G2"], "x_m": [0.0, 5000.0], "y_m": [0.0, 0.0]}).write_parquet(grids)
    result = run(events, grids, test_weeks=1, fill_weeks=4, directory=tmp_path / "store")
    assert result["test_reports"] == 3  # e1 fills the store; the invalid e5 is left out
    assert result["same_issue_pairs_in_scope"] == 1  # e3 sees e2 (e1 is 20 days older)
    assert result["precision"] == 1.0 and result["recall"] == 1.0


def test_context_pairs_carry_leaf_grid_and_days(tmp_path):
    from models.grid_neighbours import GridNeighbours
    from training.train_duplicates import context_pairs

    start = datetime(2026, 1, 1, 9)
    frame = pl.DataFrame(
        {
            "reported_at": [start, start + timedelta(days=2), start + timedelta(days=3)],
            "grid_id": ["G1", "G1", "G2"],
            "title": ["楼道堆物", "楼道堆物", "路灯"],
            "text": ["3号楼楼道堆满杂物。", "3号楼楼道杂物堆满了。", "路灯坏了。"],
            "category_l1": ["a", "a", "b"],
            "category_l2": ["x", "x", "y"],
            "category_l3": ["1", "1", "2"],
            "incident_id": ["I1", "I1", "I2"],
        }
    )
    grids = pl.DataFrame({"grid_id": ["G1", "G2"], "x_m": [0.0, 500.0], "y_m": [0.0, 0.0]})
    X, y = context_pairs(frame, GridNeighbours.from_table(grids))
    assert list(y) == [1, 0, 0]
    from models.duplicates import COLUMNS, CONTEXT_FEATURES

    assert X.shape == (3, len(COLUMNS))
    context = dict(zip(CONTEXT_FEATURES, X[0, -len(CONTEXT_FEATURES) :], strict=True))
    assert [context["same_leaf"], context["same_grid"], context["days_apart"]] == [1.0, 1.0, 2.0]
    assert context["within_day"] == 0.0 and np.isclose(context["log_days"], np.log(3.0))


def test_pairs_with_templates_unseen_in_training_are_counted_apart(tmp_path):
    start = datetime(2026, 1, 1, 9)
    rows = [
        ("e1", start, "G1", "楼道堆物", "英祥春天小区3号楼楼道堆满杂物。", "I1", "t:old"),
        (
            "e2",
            start + timedelta(days=20),
            "G1",
            "楼道堆物",
            "英祥春天小区3号楼楼道堆满杂物。",
            "I2",
            "t:old",
        ),
        (
            "e3",
            start + timedelta(days=20, hours=1),
            "G1",
            "楼道堆物",
            "英祥春天小区3号楼楼道堆满杂物!",
            "I2",
            "t:old",
        ),
        (
            "e4",
            start + timedelta(days=20, hours=2),
            "G1",
            "消防通道",
            "3号楼消防通道全是杂物，英祥春天小区。",
            "I2",
            "t:new",
        ),
    ]
    events = tmp_path / "events.parquet"
    pl.DataFrame(
        rows,
        schema=["event_id", "reported_at", "grid_id", "title", "text", "incident_id", "template_id"],
        orient="row",
    ).write_parquet(events)
    grids = tmp_path / "grids.parquet"
    pl.DataFrame({"grid_id": ["G1"], "x_m": [0.0], "y_m": [0.0]}).write_parquet(grids)
    result = run(events, grids, test_weeks=1, fill_weeks=4, directory=tmp_path / "store")
    assert result["same_issue_pairs_in_scope"] == 3  # e3-e2, e4-e2, e4-e3
    unseen = result["unseen_templates"]
    assert unseen["templates"] == 1 and unseen["same_issue_pairs_in_scope"] == 2  # the pairs with e4


def test_context_scorer_tells_another_spot_from_the_same_spot_in_other_words():
    """Same leaf, same grid, same day: the same template about another building and shop is less likely
    the same incident than other words about the same building and shop."""
    from models.duplicates import (
        CONTEXT_PARAMS_FILE,
        DuplicateParams,
        DuplicateScorer,
        context_features,
        pair_features,
        prepare,
    )

    params = DuplicateParams.load(CONTEXT_PARAMS_FILE)
    first = prepare("餐馆用煤气罐", "学院街东北快餐店在地下室放液化气钢瓶，7栋502室的住户闻到气味。")
    template_elsewhere = prepare(
        "餐馆用煤气罐", "平海巷佳佳面馆在地下室放液化气钢瓶，9栋301室的住户闻到气味。"
    )
    other_words = prepare("液化气瓶存放不规范", "7栋楼下学院街那家快餐店，煤气罐就堆在地下室，太危险了。")
    context = context_features(
        "安全隐患/燃气安全/违规使用液化气瓶", "安全隐患/燃气安全/违规使用液化气瓶", "G1", "G1", 0.2
    )
    scorer = DuplicateScorer.from_params(params)
    X = [
        [*pair_features(first, template_elsewhere), *context],
        [*pair_features(first, other_words), *context],
    ]
    elsewhere, same_spot = scorer.score(X)
    assert same_spot > elsewhere
    assert same_spot >= params.duplicate_threshold
