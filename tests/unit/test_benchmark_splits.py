"""The benchmark's held-out split: deterministic, stratified, identical texts never on both sides."""

from __future__ import annotations

import polars as pl

from evaluation.text_splits import grouped_stratified_split, split_csv


def _frame() -> pl.DataFrame:
    rows = []
    for label in ("甲", "乙", "丙"):
        for i in range(40):
            body = f"{label}类第{i % 25}号问题的详细描述"  # 15 bodies repeat under another title
            rows.append({"id": f"{label}{i}", "title": f"标题{label}{i}", "text": body, "label": label})
    rows.append({"id": "x", "title": "只有标题", "text": None, "label": "甲"})
    return pl.DataFrame(rows)


def test_split_is_stratified_grouped_and_deterministic(tmp_path):
    frame = _frame()
    train, test = grouped_stratified_split(frame, test_share=0.2, seed=3)
    assert train.height + test.height == frame.height
    assert set(train["id"]).isdisjoint(test["id"])
    assert set(train["text"].drop_nulls()).isdisjoint(test["text"].drop_nulls())
    shares = test.group_by("label").len()["len"] / frame.group_by("label").len()["len"]
    assert all(0.1 <= share <= 0.3 for share in shares)
    again_train, again_test = grouped_stratified_split(frame, test_share=0.2, seed=3)
    assert again_test["id"].to_list() == test["id"].to_list()


def test_split_csv_writes_train_and_test(tmp_path):
    source = tmp_path / "labelled.csv"
    _frame().with_columns(pl.lit("x").alias("extra")).write_csv(source)
    files = split_csv(source, tmp_path / "out")
    train, test = pl.read_csv(files.train), pl.read_csv(files.test)
    assert train.columns == ["id", "title", "text", "label"] == test.columns
    assert (train.height, test.height) == (files.train_rows, files.test_rows)


def test_split_csv_reads_another_label_column_and_leaves_unlabelled_rows_out(tmp_path):
    source = tmp_path / "domains.csv"
    frame = _frame().rename({"label": "domain"})
    frame = frame.with_columns(
        pl.when(pl.col("id").str.ends_with("7")).then(None).otherwise("domain").alias("domain")
    )
    frame.write_csv(source)
    files = split_csv(source, tmp_path / "out", label_column="domain")
    train, test = pl.read_csv(files.train), pl.read_csv(files.test)
    unlabelled = frame["domain"].is_null().sum()
    assert unlabelled > 0 and files.unlabelled_rows == unlabelled
    assert files.train_rows + files.test_rows == frame.height - unlabelled
    assert "label" in train.columns and train["label"].null_count() == test["label"].null_count() == 0


def test_reports_are_joined_as_serving_joins_them(tmp_path):
    from evaluation.text_benchmark import read_text_set

    path = tmp_path / "set.csv"
    rows = [("1", "标题", "正文", "甲"), ("2", "", "只有正文", "甲"), ("3", "只有标题", "", "乙")]
    pl.DataFrame(rows, schema=["id", "title", "text", "label"], orient="row").write_csv(path)
    assert read_text_set(path).texts == ["标题。正文", "只有正文", "只有标题"]
