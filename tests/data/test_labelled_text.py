"""A labelled text CSV (id,title,text,label[,reported_at]) -> rows with reasons -> the text training set."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta

import polars as pl
import pytest
from typer.testing import CliRunner

from features.labelled_text import leaf_keys, load_labelled_text
from features.taxonomy import Leaf, Taxonomy
from features.text_dataset import (
    GROUPED_SPLIT,
    TIME_SPLIT,
    TIME_SPLIT_MIN_DATED,
    build_text_dataset,
    choose_split_method,
)

FLAT = Taxonomy(
    name="flat",
    version="1",
    leaves=tuple(
        Leaf(name, name, name, f"{name}局", "none") for name in ("城乡建设", "环境保护", "交通运输")
    ),
)
TREE = Taxonomy(
    name="tree",
    version="1",
    leaves=(
        Leaf("城乡建设", "安全生产", "事故处理", "住建局", "hazard"),
        Leaf("城乡建设", "房产管理", "事故处理", "住建局", "none"),
        Leaf("环境保护", "噪音污染", "施工噪音", "生态环境局", "dispute"),
    ),
)
WORDS = {"城乡建设": "违章搭建", "环境保护": "工地噪音", "交通运输": "公交晚点"}


def write_csv(path, rows: list[dict], encoding: str = "utf-8"):
    path.write_bytes(pl.DataFrame(rows).write_csv().encode(encoding))
    return path


def messages(n: int = 60, dated: int = 0, duplicates: int = 0) -> list[dict]:
    """n messages over the three flat labels; the first `dated` have a time; `duplicates` repeat a body."""
    labels = list(WORDS)
    rows = []
    for i in range(n):
        label = labels[i % 3]
        body = f"{WORDS[label]}，第{i // 9 if i < duplicates else i}号" if i % 7 else ""
        title = f"{WORDS[label]}{i}" if i % 2 or not body else ""
        when = (datetime(2024, 1, 1) + timedelta(hours=i)).isoformat() if i < dated else ""
        rows.append({"id": f"m{i}", "title": title, "text": body, "label": label, "reported_at": when})
    return rows


def test_title_only_rows_are_kept_and_rows_without_words_are_rejected(tmp_path):
    rows = [
        {"id": "a", "title": "违章搭建", "text": "", "label": "城乡建设"},
        {"id": "b", "title": "", "text": "工地噪音扰民", "label": "环境保护"},
        {"id": "c", "title": " ", "text": "", "label": "交通运输"},
    ]
    loaded = load_labelled_text(write_csv(tmp_path / "m.csv", rows), FLAT)

    assert loaded.events["event_id"].to_list() == ["a", "b"]
    assert loaded.rejects["reject_reason"].to_list() == ["empty title and text"]
    assert loaded.events.height + loaded.rejects.height == 3
    text = build_text_dataset(loaded.events, valid_share=0, test_share=0)
    assert sorted(text["text"].to_list()) == ["工地噪音扰民", "违章搭建"]


def test_labels_name_a_leaf_by_id_or_unique_last_level(tmp_path):
    rows = [
        {"id": "1", "title": "t", "text": "", "label": "城乡建设/安全生产/事故处理"},
        {"id": "2", "title": "t", "text": "", "label": " 施工噪音 "},  # unique last-level name
        {"id": "3", "title": "t", "text": "", "label": "事故处理"},  # two leaves end in it
        {"id": "4", "title": "t", "text": "", "label": "城乡建设"},  # an inner node, not a leaf
        {"id": "5", "title": "t", "text": "", "label": ""},
        {"id": "1", "title": "t", "text": "", "label": "施工噪音"},
    ]
    loaded = load_labelled_text(write_csv(tmp_path / "m.csv", rows), TREE)

    assert loaded.events["leaf_id"].to_list() == ["城乡建设/安全生产/事故处理", "环境保护/噪音污染/施工噪音"]
    assert loaded.events["risk_group"].to_list() == ["hazard", "dispute"]
    assert loaded.rejects["reject_reason"].to_list() == [
        "unknown label",
        "unknown label",
        "missing label",
        "duplicate id",
    ]
    assert "事故处理" not in leaf_keys(TREE)


def test_missing_columns_are_one_user_error(tmp_path):
    from core.errors import DataFileError

    path = write_csv(tmp_path / "m.csv", [{"id": "1", "body": "x", "category": "城乡建设"}])
    with pytest.raises(DataFileError, match=r"lacks column\(s\) \['label', 'title or text'\]"):
        load_labelled_text(path, FLAT)


def test_gbk_file_is_detected_and_dates_are_checked(tmp_path):
    rows = messages(6, dated=6)
    rows[1]["reported_at"] = "昨天"
    rows[2]["reported_at"] = "1999-12-31"
    loaded = load_labelled_text(write_csv(tmp_path / "m.csv", rows, encoding="gbk"), FLAT)

    assert loaded.counts["encoding"] == "gb18030"
    assert loaded.rejects["reject_reason"].to_list() == [
        "unparseable reported_at",
        "reported_at before 2000-01-01",
    ]
    assert loaded.events["title"].str.contains("违章搭建|工地噪音|公交晚点").all()


def test_the_rejects_file_is_private_redacted_and_formula_safe(tmp_path):
    rows = [
        {"id": "1", "title": "电话13800138000", "text": "", "label": "外星人"},
        {"id": "2", "title": "=HYPERLINK(1)", "text": "", "label": "外星人"},
    ]
    loaded = load_labelled_text(write_csv(tmp_path / "m.csv", rows), FLAT)

    path = loaded.write_rejects(tmp_path / "rejects.csv")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = path.read_text(encoding="utf-8")
    assert "13800138000" not in written and "'=HYPERLINK" in written
    assert written.count("unknown label") == 2


def test_undated_sets_get_a_seeded_grouped_stratified_split(tmp_path):
    loaded = load_labelled_text(write_csv(tmp_path / "m.csv", messages(210, duplicates=90)), FLAT)

    dataset = build_text_dataset(loaded.events, seed=3)

    assert set(dataset["split_method"]) == {GROUPED_SPLIT}
    counts = dataset.group_by("split").len()
    assert dict(counts.iter_rows()).keys() == {"train", "valid", "test"}
    # every label in every split, and about its share of the rows
    assert dataset.group_by("split").agg(pl.col("leaf_id").n_unique())["leaf_id"].min() == 3
    assert 0.08 <= dataset.filter(pl.col("split") == "test").height / dataset.height <= 0.22
    # identical bodies never straddle a cut (among the first 90, each label repeats a body three times)
    bodies = loaded.events.select("event_id", "text").join(dataset.select("event_id", "split"), on="event_id")
    straddling = bodies.filter(pl.col("text").is_not_null()).group_by("text").agg(pl.col("split").n_unique())
    assert straddling["split"].max() == 1
    assert bodies.filter(pl.col("text").is_not_null())["text"].is_duplicated().any()
    # seeded
    assert build_text_dataset(loaded.events, seed=3)["split"].equals(dataset["split"])
    assert not build_text_dataset(loaded.events, seed=4)["split"].equals(dataset["split"])


@pytest.mark.parametrize(
    ("dated", "method"), [(100, TIME_SPLIT), (80, TIME_SPLIT), (79, GROUPED_SPLIT), (0, GROUPED_SPLIT)]
)
def test_the_time_split_needs_most_rows_dated(dated, method):
    frame = pl.DataFrame(
        {"reported_at": [datetime(2024, 1, 1)] * dated + [None] * (100 - dated)},
        schema={"reported_at": pl.Datetime("us")},
    )
    assert TIME_SPLIT_MIN_DATED == 0.8
    assert choose_split_method(frame) == method


def test_a_mostly_dated_set_is_split_by_time_with_undated_rows_in_train(tmp_path):
    loaded = load_labelled_text(write_csv(tmp_path / "m.csv", messages(100, dated=90)), FLAT)

    dataset = build_text_dataset(loaded.events)

    assert set(dataset["split_method"]) == {TIME_SPLIT}
    assert dataset.filter(pl.col("reported_at").is_null())["split"].unique().to_list() == ["train"]
    train_end = dataset.filter(pl.col("split") == "train")["reported_at"].max()
    assert train_end < dataset.filter(pl.col("split") == "test")["reported_at"].min()


def test_too_few_distinct_texts_to_hold_out_is_a_user_error(tmp_path):
    from core.errors import DataFileError

    loaded = load_labelled_text(write_csv(tmp_path / "m.csv", messages(4)), FLAT)
    with pytest.raises(DataFileError, match="too few"):
        build_text_dataset(loaded.events)


# ---- the commands ----------------------------------------------------------------------------------
def flat_yaml(path):
    body = "".join(f"  - name: {label}\n    department: 部门\n    risk_group: none\n" for label in WORDS)
    path.write_text(f"name: flat3\nversion: '1'\ncategories:\n{body}", encoding="utf-8")
    return path


def test_build_text_writes_the_training_set_and_the_rejects(tmp_path, monkeypatch):
    from cli.app import app

    monkeypatch.setenv("GRIDSENSE_HOME", str(tmp_path))
    rows = [*messages(60), {"id": "x", "title": "", "text": "", "label": "城乡建设"}]
    data, out = write_csv(tmp_path / "m.csv", rows), tmp_path / "out"

    result = CliRunner().invoke(
        app,
        [
            "build-text",
            "--data",
            str(data),
            "--taxonomy",
            str(flat_yaml(tmp_path / "t.yaml")),
            "--out",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "split: grouped_stratified" in result.output
    assert pl.read_parquet(out / "text.parquet").height == 60
    assert "empty title and text" in (out / "rejects.csv").read_text(encoding="utf-8")


def test_build_text_with_the_wrong_taxonomy_says_to_pass_one(tmp_path, monkeypatch):
    from cli.app import app

    monkeypatch.setenv("GRIDSENSE_HOME", str(tmp_path))
    data = write_csv(tmp_path / "m.csv", messages(6))

    result = CliRunner().invoke(app, ["build-text", "--data", str(data), "--out", str(tmp_path / "o")])

    assert result.exit_code == 2
    assert "no label names a leaf" in result.output and "--taxonomy" in result.output


def test_train_text_given_a_csv_names_the_command_that_builds_the_set(tmp_path, monkeypatch):
    from cli.app import app

    monkeypatch.setenv("GRIDSENSE_HOME", str(tmp_path))
    data = write_csv(tmp_path / "m.csv", messages(6))

    result = CliRunner().invoke(app, ["train", "text", "--data", str(data)])

    assert result.exit_code == 2
    assert "gridsense build-text --data" in result.output
    assert "Traceback" not in result.output


def test_build_features_text_only_needs_no_grids_file(tmp_path, monkeypatch):
    from cli.app import app
    from features.taxonomy import load_taxonomy

    monkeypatch.setenv("GRIDSENSE_HOME", str(tmp_path))
    leaves = load_taxonomy().leaves[:3]
    log = pl.DataFrame(
        {
            "event_id": [f"E{i}" for i in range(60)],
            "reported_at": [(datetime(2024, 1, 1) + timedelta(hours=i)).isoformat() for i in range(60)],
            "grid_id": "G1",
            "channel": "app",
            "text": [f"报告{i}" for i in range(60)],
            "category_l1": [leaves[i % 3].l1 for i in range(60)],
            "category_l2": [leaves[i % 3].l2 for i in range(60)],
            "category_l3": [leaves[i % 3].l3 for i in range(60)],
        }
    )
    log.write_csv(tmp_path / "log.csv")
    for flag in (["--text-only"], []):  # with or without the flag: there is no grids file here
        out = tmp_path / f"features{len(flag)}"
        result = CliRunner().invoke(
            app, ["build-features", "--events", str(tmp_path / "log.csv"), "--out", str(out), *flag]
        )
        assert result.exit_code == 0, result.output
        assert "panel skipped" in result.output
        assert (out / "text.parquet").is_file() and not (out / "panel.parquet").exists()
