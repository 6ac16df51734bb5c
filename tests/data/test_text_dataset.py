"""The text training set: labelled rows only, prepared text without PII, and a split by time."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from features.events import validate_events
from features.taxonomy import Leaf, Taxonomy
from features.text_dataset import (
    SPLIT_METHOD_COLUMN,
    TEXT_DATASET_COLUMNS,
    TIME_SPLIT,
    build_text_dataset,
    split_summary,
)

LEAVES = (
    Leaf("矛盾纠纷", "邻里纠纷", "噪音扰邻纠纷", "社区居委会", "dispute"),
    Leaf("矛盾纠纷", "邻里纠纷", "漏水渗水纠纷", "物业服务企业", "dispute"),
    Leaf("安全隐患", "消防安全", "消防通道堵塞", "消防救援站", "hazard"),
    Leaf("咨询", "咨询", "咨询", "12345热线", "none"),
)
TAXONOMY = Taxonomy(name="test", version="1", leaves=LEAVES)
PHONE, ID_NUMBER, PLATE = "13800138000", "11010519491231002X", "浙A12345"
START = datetime(2024, 1, 1, 8, 0)


def events(n: int = 100, unlabelled_every: int | None = 10) -> pl.DataFrame:
    """n reports, one every 6 hours but shuffled in file order; some unlabelled; PII in the text."""
    order = [(i * 37) % n for i in range(n)]  # a permutation: file order is not time order
    leaves = [LEAVES[i % len(LEAVES)] for i in order]
    unlabelled = [unlabelled_every is not None and i % unlabelled_every == 0 for i in order]
    frame = pl.DataFrame(
        {
            "event_id": [f"E{i:04d}" for i in order],
            "reported_at": [(START + timedelta(hours=6 * i)).isoformat() for i in order],
            "grid_id": "G1",
            "channel": "app",
            "title": [None if i % 3 else "标题" for i in order],
            "text": [f"第{i}号：电话{PHONE}，身份证{ID_NUMBER}，车牌{PLATE}" for i in order],
            "category_l1": [None if u else leaf.l1 for leaf, u in zip(leaves, unlabelled, strict=True)],
            "category_l2": [None if u else leaf.l2 for leaf, u in zip(leaves, unlabelled, strict=True)],
            "category_l3": [None if u else leaf.l3 for leaf, u in zip(leaves, unlabelled, strict=True)],
        }
    )
    load = validate_events(frame, TAXONOMY, require_labels=False)
    assert load.rejects.is_empty()
    return load.events


def test_columns_and_labelled_rows_only() -> None:
    dataset = build_text_dataset(events(100))
    assert tuple(dataset.columns) == (*TEXT_DATASET_COLUMNS, SPLIT_METHOD_COLUMN)
    assert set(dataset[SPLIT_METHOD_COLUMN]) == {TIME_SPLIT}  # every event-log row is dated
    assert dataset.height == 90  # every 10th report is unlabelled
    assert dataset["leaf_id"].null_count() == 0


def test_split_is_by_time_without_overlap() -> None:
    dataset = build_text_dataset(events(100), valid_share=0.2, test_share=0.1)
    assert dataset["reported_at"].is_sorted()
    ranges = {
        split: (group["reported_at"].min(), group["reported_at"].max())
        for (split,), group in dataset.group_by("split")
    }
    assert ranges["train"][1] < ranges["valid"][0]
    assert ranges["valid"][1] < ranges["test"][0]
    counts = dict(dataset.group_by("split").len().iter_rows())
    assert counts == {"train": 63, "valid": 18, "test": 9}


def test_reports_sharing_the_cut_time_go_to_the_later_split() -> None:
    early = events(10, unlabelled_every=None)
    late = events(20, unlabelled_every=None).with_columns(
        pl.lit(datetime(2024, 5, 1)).alias("reported_at"), pl.col("event_id") + "b"
    )
    dataset = build_text_dataset(pl.concat([early, late]), valid_share=0.2, test_share=0.2)
    counts = dict(dataset.group_by("split").len().iter_rows())
    # 20 of 30 reports share the last timestamp: all go to test (its share is 20%), none to valid
    assert counts == {"train": 10, "test": 20}
    assert dataset.filter(pl.col("split") == "test")["reported_at"].unique().to_list() == [
        datetime(2024, 5, 1)
    ]


def test_labels_are_consistent_with_the_taxonomy() -> None:
    dataset = build_text_dataset(events(60))
    for leaf_id, l1, l2, l3, risk_group in (
        dataset.select("leaf_id", "category_l1", "category_l2", "category_l3", "risk_group")
        .unique()
        .iter_rows()
    ):
        leaf = TAXONOMY.leaf(leaf_id)
        assert (leaf.l1, leaf.l2, leaf.l3, leaf.risk_group) == (l1, l2, l3, risk_group)
    assert set(dataset["leaf_id"]) == set(TAXONOMY.leaf_ids)


def test_text_is_prepared_and_free_of_pii() -> None:
    dataset = build_text_dataset(events(30))
    texts = dataset["text"].to_list()
    for secret in (PHONE, ID_NUMBER, ID_NUMBER.lower(), "浙a12345", PLATE):
        assert not any(secret in text for text in texts)
    assert all("<PHONE>" in t and "<ID>" in t and "<PLATE>" in t for t in texts)
    titled = dataset.filter(pl.col("text").str.starts_with("标题。"))
    assert 0 < titled.height < dataset.height


def test_split_summary_counts() -> None:
    dataset = build_text_dataset(events(100))
    summary = split_summary(dataset)
    assert summary["split"].to_list() == ["train", "valid", "test"]
    assert summary["rows"].sum() == dataset.height
    # 90 labelled rows: test = round(90 * 0.15) = 14, valid + test = round(90 * 0.30) = 27
    assert summary["rows"].to_list() == [63, 13, 14]
    assert (summary["classes"] > 0).all()


def test_shares_are_checked() -> None:
    with pytest.raises(ValueError):
        build_text_dataset(events(10), valid_share=0.6, test_share=0.5)


def test_zero_shares_put_everything_in_train() -> None:
    dataset = build_text_dataset(events(10), valid_share=0.0, test_share=0.0)
    assert dataset["split"].unique().to_list() == ["train"]


def test_a_log_without_report_texts_gives_no_text_rows() -> None:
    """Crime records (Chicago) have categories but no texts: nothing for a text model to learn from."""
    loaded = events(100)
    assert build_text_dataset(loaded.drop("title", "text")).is_empty()
    untitled = loaded.drop("title").with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.col("text")).otherwise(None).alias("text")
    )
    dataset = build_text_dataset(untitled)
    assert 0 < dataset.height < 90 and dataset["text"].str.len_chars().min() > 0


def test_one_row_per_incident_the_first_report_kept_and_rows_without_an_incident_kept():
    from datetime import datetime

    from features.text_dataset import first_report_of_each_incident

    events = pl.DataFrame(
        {
            "event_id": ["late", "early", "alone", "other"],
            "incident_id": ["i1", "i1", None, "i2"],
            "reported_at": [datetime(2025, 1, d) for d in (2, 1, 3, 4)],
        }
    )
    assert first_report_of_each_incident(events)["event_id"].to_list() == ["early", "alone", "other"]
