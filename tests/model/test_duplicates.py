"""Duplicate detection: places named in the text decide between "same template, other place" (new) and
"same problem, other words" (duplicate); thresholds come from labelled pairs; the benchmark command
reports every pair."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from cli.app import app
from core.errors import DataFileError
from core.pii import redact_pii
from models.duplicate_pairs import benchmark, fit_params, prepared_pairs, read_pairs
from models.duplicates import (
    FEATURES,
    SPOT_FEATURES,
    DuplicateParams,
    DuplicateScorer,
    choose_threshold,
    decide,
    features_against,
    features_of,
    pair_features,
    prepare,
    prepare_stored,
    prepare_stored_many,
    score_pairs,
    stored_payload,
)
from models.places import extract_places, place_similarity

TEMPLATE = (
    "{place}小区一楼被搞成商业门面，噪音扰民严重。我们是{place}小区居民，楼下商铺油烟味往楼上窜，没办法居住。"
)


def test_places_are_named_estates_streets_and_villages_without_the_admin_prefix():
    assert extract_places("A4区英祥春天小区一楼被搞成商业门面") == ["英祥春天小区"]
    assert "雨敞坪镇" in "".join(extract_places("本人家住A市A3区雨敞坪镇新卯村三合组"))
    assert extract_places("我们小区的问题") == []
    assert place_similarity(["金领公寓"], ["金邻公寓"]) == 0.5
    assert place_similarity(["柏家塘小区"], ["柏家塘小区a区"]) == 1.0
    assert place_similarity([], ["x小区"]) is None


def test_same_template_about_another_estate_scores_below_the_same_problem_in_other_words():
    params = DuplicateParams.load()
    first = prepare("A4区英祥春天小区一楼被搞成商业门面", TEMPLATE.format(place="英祥春天"))
    template_elsewhere = prepare("A5区魅力之城小区一楼被搞成商业门面", TEMPLATE.format(place="魅力之城"))
    other_words = prepare(
        "英祥春天小区楼下餐馆油烟噪音太大",
        "英祥春天小区临街一楼原本是架空层，现在开成饭店，晚上吵得睡不着，油烟直往家里飘，请处理。",
    )
    scores = score_pairs([(first, template_elsewhere), (first, other_words)], params)
    assert scores[1] > scores[0]
    assert decide(float(scores[0]), params) != "duplicate"
    assert decide(float(score_pairs([(first, first)], params)[0]), params) == "duplicate"


def test_texts_are_redacted_before_comparison():
    report = prepare("电话13812345678", "我叫张三，电话13812345678")
    assert "13812345678" not in report.text + report.title


def labelled_pairs() -> pl.DataFrame:
    estates = ["英祥春天", "魅力之城", "润芳园", "金领公寓", "柏家塘", "翠园", "丽发新城", "金茂悦"]
    rows = []
    for i, place in enumerate(estates):
        other = estates[(i + 1) % len(estates)]
        text = TEMPLATE.format(place=place)
        rows.append(
            (f"{i}a", f"{place}小区噪音扰民", text, f"{i}b", f"{place}小区商铺噪音油烟", text[10:], 1)
        )
        rows.append(
            (
                f"{i}c",
                f"{place}小区噪音扰民",
                text,
                f"{i}d",
                f"{other}小区噪音扰民",
                TEMPLATE.format(place=other),
                0,
            )
        )
        rows.append(
            (f"{i}e", f"{place}小区停水", f"{place}小区连续三天停水。", f"{i}f", "路灯不亮", "路灯坏了。", 0)
        )
    return pl.DataFrame(
        rows, schema=["id_a", "title_a", "text_a", "id_b", "title_b", "text_b", "label"], orient="row"
    )


def test_fitted_thresholds_separate_labelled_pairs():
    frame = labelled_pairs()
    X = features_of(prepared_pairs(frame))
    params = fit_params(X, frame["label"].to_numpy(), min_precision=0.95)
    assert 0.0 < params.related_threshold <= params.duplicate_threshold < 1.0
    report = benchmark(frame.with_columns(pl.col("label").cast(pl.String)), params)
    assert report["metrics"]["precision"] >= 0.95
    assert {"id_a", "id_b", "score", "same_issue"} <= set(report["pairs"][0])
    assert DuplicateScorer().fit(X, frame["label"].to_numpy()).score(X).shape == (len(frame),)
    assert DuplicateParams.from_json(params.to_json()) == params


def test_a_pairs_file_without_the_columns_is_a_user_error(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("id_a,text_a\n1,x\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="title_a"):
        read_pairs(path)
    path.write_text("id_a,title_a,text_a,id_b,title_b,text_b,label\n1,,x,2,,y,maybe\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="0/1"):
        read_pairs(path)


def test_benchmark_duplicates_command_writes_every_pair(tmp_path):
    pairs = tmp_path / "pairs.csv"
    labelled_pairs().write_csv(pairs)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["benchmark", "duplicates", "--pairs", str(pairs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "precision" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert len(report["pairs"]) == 24
    assert all(isinstance(p["same_issue"], bool) and 0 <= p["score"] <= 1 for p in report["pairs"])
    assert np.isclose(report["threshold"], DuplicateParams.load().duplicate_threshold)


def test_pairs_files_in_gbk_with_spelled_labels_are_read(tmp_path):
    path = tmp_path / "pairs.csv"
    text = (
        "ID_A,title_a,text_a,id_b,title_b,text_b,label\n"
        "1,阳光小区停水,阳光小区停水三天,2,阳光小区没水,阳光小区又停水了,1.0\n"
    )
    path.write_bytes(text.encode("gbk"))
    frame = read_pairs(path)
    assert frame["title_a"][0] == "阳光小区停水" and frame["label"].to_list() == [1]


def test_punctuation_and_full_width_forms_do_not_change_a_pairs_features():
    plain = prepare(
        "英祥春天小区3号楼楼道堆物", "英祥春天小区3号楼楼道堆满杂物，消防通道被堵死，请尽快处理。"
    )
    marked = prepare(
        "英祥春天小区３号楼楼道堆物！", "英祥春天小区３号楼楼道堆满杂物!!!消防通道被堵死……请尽快处理"
    )
    other = prepare("英祥春天小区楼道杂物", "3号楼楼道里杂物堆满了，英祥春天小区物业不管。")
    assert plain.numbered_spots == marked.numbered_spots == {"3号楼"}
    assert np.allclose(pair_features(plain, other)[8:], pair_features(marked, other)[8:])
    params = DuplicateParams.load()
    assert decide(float(score_pairs([(marked, plain)], params)[0]), params) == "duplicate"


def test_spots_named_anywhere_are_shared_or_in_conflict():
    first = prepare(
        None, "市民来电反映：我们这栋楼都是老住户。学院街东北快餐店还在用液化气钢瓶，7栋502室闻到气味。"
    )
    again = prepare("餐馆用煤气罐", "学院街那家快餐店用液化气钢瓶放在地下室，7栋的住户很担心。")
    elsewhere = prepare(None, "平海巷佳佳面馆还在用液化气钢瓶，9栋301室闻到气味。")
    shared = dict(zip(FEATURES, pair_features(first, again), strict=True))
    apart = dict(zip(FEATURES, pair_features(first, elsewhere), strict=True))
    assert shared["number_shared"] == 1 and shared["place_shared"] >= 1 and shared["number_conflict"] == 0
    assert apart["number_shared"] == 0 and apart["number_conflict"] == 1 and apart["place_disjoint"] == 1


def test_params_without_the_spot_features_score_as_before():
    """The recorded text-only params name only the base features: the spot columns get no weight."""
    params = DuplicateParams.load()
    assert set(params.coef) <= set(FEATURES)
    pair = (prepare("阳光小区停水", "阳光小区3栋停水三天"), prepare("阳光小区没水", "阳光小区9栋又停水了"))
    X = features_of([pair])
    zeroed = X.copy()
    zeroed[:, [FEATURES.index(name) for name in SPOT_FEATURES]] = 0.0
    scorer = DuplicateScorer.from_params(params)
    assert scorer.score(X)[0] == scorer.score(zeroed)[0]


def test_threshold_is_the_lowest_score_reaching_the_precision():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 1, 0, 1, 1, 0])
    threshold, metrics = choose_threshold(scores, labels, min_precision=0.8)
    assert threshold == 0.5 and metrics["precision"] == 0.8 and metrics["recall"] == 1.0
    threshold, _ = choose_threshold(scores, labels, min_precision=1.0)
    assert threshold == 0.8


def _same_preparation(first, second) -> bool:
    arrays = ("title_bigrams", "trigrams", "bigrams", "bigram_counts")
    plain = ("title", "text", "places", "title_places", "primary_places", "joined", "admin_units")
    plain += ("numbered_spots", "spots", "bigram_norm")
    return all(getattr(first, a) == getattr(second, a) for a in plain) and all(
        np.array_equal(getattr(first, a), getattr(second, a)) for a in arrays
    )


def test_a_stored_payload_prepares_a_report_as_preparing_its_stored_text_does():
    title, text = (
        "阳光小区3号楼电梯坏了",
        "建设路阳光小区3号楼2单元电梯停运三天，金色花园那边也一样，电话13812345678",
    )
    incoming = prepare(title, text)
    stored_title, stored_text = redact_pii(title), redact_pii(text)
    payload = stored_payload(incoming, stored_title, stored_text)
    assert "13812345678" not in payload.decode("utf-8")
    again = prepare(stored_title, stored_text, redact=False)
    assert _same_preparation(prepare_stored(stored_title, stored_text, payload), again)
    assert again.places and again.spots  # the payload carried something worth keeping


def test_reports_prepared_together_are_prepared_as_each_alone():
    rows = [
        ("阳光小区3号楼电梯坏了", "建设路阳光小区3号楼2单元电梯停运三天"),
        (None, "水"),
        ("", ""),
        ("a b", " c "),
        ("翠湖", None),
        ("英祥春天小区楼道杂物", "3号楼楼道里杂物堆满了，英祥春天小区物业不管。" * 3),
    ]
    stored = [(title, text, stored_payload(prepare(title, text), title, text)) for title, text in rows]
    stored.insert(2, ("没有载荷的", "旧版本存的报告", b""))
    together = prepare_stored_many(stored)
    for report, (title, text, payload) in zip(together, stored, strict=True):
        assert _same_preparation(report, prepare_stored(title, text, payload))
        assert _same_preparation(report, prepare(title, text, redact=False))


def test_a_payload_of_another_version_or_unreadable_is_prepared_again():
    title, text = "翠湖家园广场舞", "翠湖家园广场舞音响太吵，影响3栋老人休息"
    stale = json.dumps({"v": -1, "places": ["别处小区"], "title_places": [], "spots": ["别处"]}).encode()
    fresh = prepare(title, text, redact=False)
    for payload in (b"", b"\xff not json", stale, b"[1, 2]"):
        assert _same_preparation(prepare_stored(title, text, payload), fresh)


def test_many_pairs_at_once_have_the_features_of_each_pair_alone():
    texts = [
        ("阳光小区停水", "阳光小区3栋停水三天"),
        ("阳光小区没水", "阳光小区9栋又停水了"),
        (None, "水"),
        ("", ""),
        ("英祥春天小区楼道杂物", "3号楼楼道里杂物堆满了，英祥春天小区物业不管。"),
        ("A4区英祥春天小区一楼被搞成商业门面", TEMPLATE.format(place="英祥春天")),
    ]
    reports = [prepare(title, text) for title, text in texts]
    for first in reports:
        together = features_against(first, reports)
        alone = np.array([pair_features(first, other) for other in reports])
        assert np.array_equal(together, alone)
    pairs = [(a, b) for a in reports for b in reports]
    assert np.array_equal(features_of(pairs), np.array([pair_features(a, b) for a, b in pairs]))
    assert features_of(pairs)[0, FEATURES.index("text_containment")] == 1.0
