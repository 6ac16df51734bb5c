"""Drift monitoring (issue 14): the signals stay quiet on traffic like the reference and name what moved
on traffic that is not; the job writes a report a data scientist can open."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import polars as pl
import pytest

from features.taxonomy import Leaf, Taxonomy
from models.text_ngrams import ngram_keys
from models.text_tfidf import TfidfTextClassifier
from monitoring.job import build_reference, monitor_reports, run_monitor
from monitoring.scoring import ScoredReports, decode_ngram, training_vocabulary, unseen_ngram_share
from monitoring.signals import DriftReference, DriftThresholds, compare, psi
from monitoring.traffic import load_reports, windows

CATEGORIES = np.array(["A", "B", "C", "D"], dtype=object)


def traffic(
    n: int,
    seed: int,
    mix=(0.4, 0.3, 0.2, 0.1),
    confidence=(8, 2),
    review=0.05,
    unseen=0.1,
    length=80,
    novel=0.0,
):
    """`novel`: this share of the reports use new phrasings (0.2 more unseen n-grams each)."""
    rng = np.random.default_rng(seed)
    l1 = rng.choice(CATEGORIES, size=n, p=mix)
    new_phrasing = rng.random(n) < novel
    return ScoredReports(
        category_l1=l1,
        leaf_id=l1.copy(),
        confidence=rng.beta(*confidence, size=n),
        needs_review=rng.random(n) < review,
        length=rng.poisson(length, size=n),
        unseen_share=np.clip(rng.normal(unseen, 0.03, size=n) + 0.2 * new_phrasing, 0, 1),
    )


def joined(*parts: ScoredReports) -> ScoredReports:
    return ScoredReports(
        *(
            np.concatenate([getattr(part, name) for part in parts])
            for name in ScoredReports.__dataclass_fields__
            if name != "corrected"
        )
    )


@pytest.fixture(scope="module")
def reference() -> DriftReference:
    return DriftReference.build(traffic(2000, seed=0))


def alarms(reference: DriftReference, window: ScoredReports) -> set[str]:
    return {signal.name for signal in compare(reference, window, DriftThresholds()) if signal.alarm}


def test_psi_is_zero_for_equal_shares_and_large_for_moved_ones():
    shares = np.array([0.5, 0.3, 0.2])
    assert psi(shares, shares, 1000, 1000) == pytest.approx(0.0, abs=1e-12)
    assert psi(shares, np.array([0.1, 0.3, 0.6]), 1000, 1000) > 0.5
    assert np.isfinite(psi(shares, np.array([0.0, 0.0, 1.0]), 1000, 1000))  # an empty bin stays finite


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_traffic_like_the_reference_raises_no_alarm(reference, seed):
    assert alarms(reference, traffic(1000, seed=seed)) == set()


@pytest.mark.parametrize(
    ("changes", "signal"),
    [
        ({"mix": (0.1, 0.2, 0.3, 0.4)}, "category_mix"),
        ({"confidence": (2, 2)}, "confidence"),
        ({"review": 0.25}, "needs_review"),
        ({"unseen": 0.2}, {"unseen_ngrams", "novel_reports"}),  # every report: the mean and the count
        ({"novel": 0.1}, "novel_reports"),  # a tenth of the reports: the mean moves by 0.02 only
        ({"length": 160}, "text_length"),
    ],
)
def test_each_moved_signal_alarms_alone(reference, changes, signal):
    expected = signal if isinstance(signal, set) else {signal}
    assert alarms(reference, traffic(1000, seed=9, **changes)) == expected


def test_novel_reports_count_the_reports_above_the_references_95th_percentile(reference):
    assert reference.novel_share == pytest.approx(0.05, abs=0.002)
    (novel,) = [
        s
        for s in compare(reference, traffic(1000, 9, novel=0.1), DriftThresholds())
        if s.name == "novel_reports"
    ]
    assert novel.current == pytest.approx(0.05 + 0.1 * 0.95, abs=0.03)  # the rest keep their 5%
    assert novel.value == pytest.approx(novel.current - reference.novel_share)
    assert novel.detail["cutoff"] == pytest.approx(reference.novel_cutoff, abs=1e-4)


def test_a_reference_saved_before_the_novel_signal_leaves_it_unmeasured(reference):
    old = {k: v for k, v in reference.to_dict().items() if k not in ("novel_cutoff", "novel_share")}
    signals = {
        s.name: s
        for s in compare(DriftReference.from_dict(old), traffic(1000, 9, novel=0.5), DriftThresholds())
    }
    assert signals["novel_reports"].value is None and "rebuild" in signals["novel_reports"].detail["why"]
    assert signals["unseen_ngrams"].alarm  # the other signals still work


def test_a_window_judged_every_250_reports_flags_a_partial_drift_within_1000_reports(reference, tmp_path):
    """The demo's drift in small: from report 3,900 a quarter of the reports use new phrasings. Consecutive
    windows of 1,000 see 100 drifted reports in 3,000-3,999 (no alarm), then alarm at report 4,999, 1,100
    reports late; judged every 250 reports, the window ending at 4,249 already holds 350 drifted reports."""
    stable, drifted = traffic(3900, seed=11), traffic(3000, seed=12, novel=0.25)
    stream = joined(stable, drifted)

    def first_alarm(step: int | None) -> dict:
        result = run_monitor(
            reference, stream, DriftThresholds(), 1000, tmp_path / str(step), source="t", step=step
        )
        assert all(not w["alarms"] for w in result.summary["windows"] if w["stop"] <= 3900)  # no false alarm
        return result.summary

    consecutive, sliding = first_alarm(None), first_alarm(250)
    assert consecutive["first_alarm_report"] == 4999
    assert sliding["first_alarm_report"] == 4249 and sliding["window_step"] == 250
    assert "novel_reports" in sliding["windows"][sliding["first_alarm_window"]]["alarms"]
    report = (tmp_path / "250" / "drift_report.md").read_text(encoding="utf-8")
    assert "one ending every 250 reports" in report and "Novel reports" in report


def test_the_category_mix_names_the_categories_that_moved(reference):
    (mix,) = [
        s
        for s in compare(reference, traffic(1000, 9, mix=(0.1, 0.3, 0.2, 0.4)), DriftThresholds())
        if s.name == "category_mix"
    ]
    assert list(mix.detail["moved"])[:2] == ["A", "D"] or list(mix.detail["moved"])[:2] == ["D", "A"]


def test_corrections_are_measured_per_category_only_with_feedback(reference):
    window = traffic(1000, seed=3)
    (plain,) = [s for s in compare(reference, window, DriftThresholds()) if s.name == "correction_rate"]
    assert plain.value is None and not plain.alarm

    corrected = np.where(window.category_l1 == "B", 0.5, 0.05)  # B's reports are corrected half the time
    rng = np.random.default_rng(0)
    fed_back = ScoredReports(**{**window.__dict__, "corrected": (rng.random(1000) < corrected).astype(float)})
    (signal,) = [s for s in compare(reference, fed_back, DriftThresholds()) if s.name == "correction_rate"]
    assert signal.alarm and signal.detail["worst"] == "B"


def test_the_reference_round_trips_through_json(reference):
    assert DriftReference.from_dict(json.loads(json.dumps(reference.to_dict()))) == reference


def test_unseen_ngram_share_counts_2_and_3_grams_outside_the_vocabulary():
    keys, _ = ngram_keys(["噪音扰民"], (2, 3))
    vocabulary = pd.Index(np.unique(keys))
    shares = unseen_ngram_share(["噪音扰民", "噪音扰民新词", "完全不同"], vocabulary)
    assert shares[0] == 0.0 and 0.0 < shares[1] < 1.0 and shares[2] == 1.0
    assert np.isnan(unseen_ngram_share(["x"], None)).all()
    assert decode_ngram(int(keys.max())) in {"噪音扰", "音扰民"}


def test_windows_keep_a_last_window_of_at_least_half_the_size():
    assert [(w.start, w.stop) for w in windows(2600, 1000)] == [(0, 1000), (1000, 2000), (2000, 2600)]
    assert [(w.start, w.stop) for w in windows(2400, 1000)] == [(0, 1000), (1000, 2000)]
    assert windows(2600, 1000, 1000) == windows(2600, 1000)


def test_windows_with_a_step_are_the_latest_reports_every_step():
    assert [(w.start, w.stop) for w in windows(1900, 1000, 250)] == [
        (0, 1000),
        (250, 1250),
        (500, 1500),
        (750, 1750),
        (900, 1900),  # 150 reports after the last one: at least half a step, a last full window
    ]
    assert [w.stop for w in windows(1800, 1000, 250)][-1] == 1750  # 50 more reports wait for the next
    assert [(w.start, w.stop) for w in windows(600, 1000, 250)] == [(0, 600)]
    for bad in (0, 1001):
        with pytest.raises(ValueError, match="step"):
            windows(2000, 1000, bad)


def test_traffic_files_keep_their_order_and_the_split_filter(tmp_path):
    first = tmp_path / "a.parquet"
    pl.DataFrame(
        {
            "text": ["三", "二", "一"],
            "split": ["test", "train", "test"],
            "reported_at": [datetime(2025, 3, 1), datetime(2025, 2, 1), datetime(2025, 1, 1)],
        }
    ).write_parquet(first)
    second = tmp_path / "b.csv"
    second.write_text("text,corrected_leaf_id\n四,X\n五,\n", encoding="utf-8")

    reports = load_reports([first, second], split="test")
    assert reports.get_column("text").to_list() == ["一", "三", "四", "五"]
    assert reports.get_column("corrected_leaf_id").to_list() == [None, None, "X", None]
    assert [time and time[:10] for time in reports.get_column("reported_at").to_list()] == [
        "2025-01-01",
        "2025-03-01",
        None,
        None,
    ]


def dated_file(tmp_path, times) -> str:
    path = tmp_path / "dated.csv"
    path.write_text(
        "text,reported_at\n" + "".join(f"r{i},{t}\n" for i, t in enumerate(times)), encoding="utf-8"
    )
    return path


def test_a_time_range_keeps_the_reports_from_since_until_before_until(tmp_path):
    path = dated_file(
        tmp_path, ["2025-06-30 08:00:00", "2025-06-29T23:59:59", "2025/07/01 00:00:00", "2025-06-01"]
    )
    kept = load_reports([path], since=datetime(2025, 6, 1), until=datetime(2025, 7, 1))
    assert kept.get_column("text").to_list() == ["r3", "r1", "r0"]  # sorted by time; 07-01 is excluded
    parquet = tmp_path / "dated.parquet"
    pl.DataFrame(
        {"text": ["a", "b"], "reported_at": [datetime(2025, 6, 30, 9), datetime(2025, 5, 1)]}
    ).write_parquet(parquet)
    assert load_reports([parquet], since=datetime(2025, 6, 30)).get_column("text").to_list() == ["a"]


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (None, "has no reported_at column"),
        (["2025-06-30", "yesterday"], "1 of 2 reports"),
        (["2024-01-01"], "hold no reports (from 2025-06-01 00:00:00 until the end)"),
    ],
)
def test_a_time_range_on_undated_or_out_of_range_reports_says_why(tmp_path, times, message):
    from core.errors import DataFileError

    path = tmp_path / "undated.csv"
    if times is None:
        path.write_text("text\na\n", encoding="utf-8")
    else:
        path = dated_file(tmp_path, times)
    with pytest.raises(DataFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_reports([path], since=datetime(2025, 6, 1))


NOISE = ["噪音很大", "半夜吵闹", "装修声音", "音响扰民"]
LITTER = ["垃圾成堆", "垃圾没人清", "臭味熏人", "废品乱堆"]
NEW_WORDS = ["共享单车乱停", "充电桩占位", "电动车飞线充电", "外卖车逆行"]


def reports(words: list[list[str]], n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [
        f"幸福小区{rng.integers(1, 30)}栋{rng.choice(group)}，请处理" for group in words for _ in range(n)
    ]


@pytest.fixture(scope="module")
def classifier() -> TfidfTextClassifier:
    leaves = (Leaf("噪音", "噪音", "噪音", "城管", "dispute"), Leaf("垃圾", "垃圾", "垃圾", "环卫", "none"))
    texts = reports([NOISE], 40, 0) + reports([LITTER], 40, 1)
    labels = ["噪音"] * 40 + ["垃圾"] * 40
    return TfidfTextClassifier(taxonomy=Taxonomy("tiny", "1", leaves), calibration_cv=2).fit(texts, labels)


def test_a_new_kind_of_report_moves_the_signals_and_the_report_names_them(classifier, tmp_path):
    assert training_vocabulary(classifier) is not None
    held_out = pl.DataFrame({"text": reports([NOISE, LITTER], 100, 2)})
    reference = build_reference(classifier, held_out, model_version="1", source="held out")
    stable = reports([NOISE, LITTER], 100, 3)
    drifted = reports([NEW_WORDS], 200, 4)
    traffic_frame = pl.DataFrame(
        {"text": stable + drifted, "title": [None] * 400}, schema={"text": pl.String, "title": pl.String}
    )
    traffic_frame = traffic_frame.with_columns(pl.lit(None, dtype=pl.String).alias("corrected_leaf_id"))

    result = monitor_reports(
        classifier,
        reference,
        traffic_frame,
        DriftThresholds(),
        200,
        tmp_path,
        source="test",
        model_version="1",
    )

    first, second = result.summary["windows"]
    assert first["alarms"] == []
    assert "unseen_ngrams" in second["alarms"] and result.latest_alarms == second["alarms"]
    assert result.summary["first_alarm_window"] == 1
    report = result.report_path.read_text(encoding="utf-8")
    assert "**ALARM**" in report and "New n-grams" in report
    assert {"signals.png", "window.png", "drift_summary.json", "reference.json"} <= {
        p.name for p in tmp_path.iterdir()
    }


def write_drift_log(path, window: ScoredReports) -> None:
    rows = zip(window.category_l1, window.confidence, window.needs_review, window.length, strict=True)
    path.write_text(
        "".join(
            json.dumps(
                {"category_l1": c, "leaf_id": c, "confidence": p, "needs_review": bool(r), "length": int(n)}
            )
            + "\n"
            for c, p, r, n in rows
        )
        + '{"category_l1": "A", "conf',  # a line torn by a crash is skipped
        encoding="utf-8",
    )


def test_gridsense_monitor_reads_the_api_drift_log_and_exits_1_when_the_latest_window_alarms(
    reference, tmp_path
):
    from typer.testing import CliRunner

    from cli.app import app

    saved = tmp_path / "reference.json"
    saved.write_text(json.dumps(reference.to_dict()), encoding="utf-8")
    stable, moved = traffic(500, seed=1), traffic(500, seed=2, mix=(0.1, 0.2, 0.3, 0.4))
    log = tmp_path / "drift.jsonl"
    runner = CliRunner()
    args = ["monitor", "--drift-log", str(log), "--reference", str(saved), "--window", "250"]

    write_drift_log(log, stable)
    quiet = runner.invoke(app, [*args, "--out", str(tmp_path / "quiet")], terminal_width=300)
    assert quiet.exit_code == 0, quiet.output
    assert "No alarm" in (tmp_path / "quiet" / "drift_report.md").read_text(encoding="utf-8")

    write_drift_log(
        log,
        ScoredReports(
            *(
                np.concatenate([a, b])
                for a, b in zip(
                    [
                        stable.category_l1,
                        stable.leaf_id,
                        stable.confidence,
                        stable.needs_review,
                        stable.length,
                        stable.unseen_share,
                    ],
                    [
                        moved.category_l1,
                        moved.leaf_id,
                        moved.confidence,
                        moved.needs_review,
                        moved.length,
                        moved.unseen_share,
                    ],
                    strict=True,
                )
            )
        ),
    )
    loud = runner.invoke(app, [*args, "--out", str(tmp_path / "loud")], terminal_width=300)
    assert loud.exit_code == 1, loud.output
    summary = json.loads((tmp_path / "loud" / "drift_summary.json").read_text(encoding="utf-8"))
    assert summary["first_alarm_window"] == 2 and summary["windows"][2]["alarms"] == ["category_mix"]


def test_gridsense_monitor_needs_one_source_of_traffic(tmp_path):
    from typer.testing import CliRunner

    from cli.app import app

    result = CliRunner().invoke(app, ["monitor", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--reports" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "500", "--step", "600"], "--step 600 is not between 1 and the window (500 reports)"),
        (["--step", "0"], "--step 0 is not between 1"),
        (
            ["--since", "2025-07-01", "--until", "2025-06-01"],
            "--since 2025-07-01 00:00:00 is not before --until",
        ),
        (
            ["--reference-since", "2025-07-01", "--reference-until", "2025-07-01"],
            "--reference-since 2025-07-01",
        ),
        (["--since", "2025-07-01"], "the drift log has no dates"),
        (["--reference-until", "2025-07-01"], "--reference is a saved one"),
    ],
)
def test_gridsense_monitor_refuses_a_bad_step_or_time_range_in_one_line(reference, tmp_path, args, message):
    from typer.testing import CliRunner

    from cli.app import app

    saved = tmp_path / "reference.json"
    saved.write_text(json.dumps(reference.to_dict()), encoding="utf-8")
    log = tmp_path / "drift.jsonl"
    write_drift_log(log, traffic(300, seed=1))
    result = CliRunner().invoke(
        app, ["monitor", "--drift-log", str(log), "--reference", str(saved), *args], terminal_width=300
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
