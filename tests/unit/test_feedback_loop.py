"""The loop's pieces: the append-only feedback store, corrections as training rows, the review queue's
ranking, the promotion rule with the newest corrections, and `retrain text` with and without them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from core.feedback_store import (
    ALREADY_RECORDED,
    RECORDED,
    Answer,
    Feedback,
    FeedbackConflictError,
    SqliteFeedbackStore,
    latest_revisions,
)
from features.corrections import HOLDOUT, MIN_HOLDOUT_CORRECTIONS, TRAIN, corrections_frame
from monitoring.review_queue import Candidate, diverse_top, priorities
from promotion.registry_ops import PROMOTION_RULES, PromotionRule

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NOISE = "城市管理/噪音扰民/社会生活噪音"
STALL = "城市管理/市容秩序/占道经营"


def feedback(
    report_id: str, revision: int = 1, leaf_id: str | None = NOISE, minutes: int = 0, **kw
) -> Feedback:
    values = {
        "actor": "k1",
        "role": "supervisor",
        "received_at": T0 + timedelta(minutes=minutes),
        "reported_at": T0,
        "text": f"报告{report_id}的内容",
    } | kw
    return Feedback(report_id=report_id, revision=revision, leaf_id=leaf_id, **values)


def answer(report_id: str, minutes: int = 0, margin: float = 0.5) -> Answer:
    return Answer(
        report_id, T0 + timedelta(minutes=minutes), "gridsense-text", "3", NOISE, 0.7, margin, False, 0.1
    )


# ---- the store ------------------------------------------------------------------------------------------
def test_revisions_are_appended_idempotently_and_a_changed_revision_is_refused(tmp_path):
    store = SqliteFeedbackStore(tmp_path / "reports.sqlite")
    assert store.record(feedback("r1")) == RECORDED
    retry = feedback("r1", actor="k2", minutes=5)  # the same content sent again later by another key
    assert store.record(retry) == ALREADY_RECORDED
    with pytest.raises(FeedbackConflictError, match="next revision"):
        store.record(feedback("r1", leaf_id=STALL))
    assert store.record(feedback("r1", revision=2, leaf_id=STALL, minutes=9)) == RECORDED
    assert [(f.revision, f.leaf_id, f.actor) for f in store.feedback()] == [
        (1, NOISE, "k1"),
        (2, STALL, "k1"),
    ]
    assert [f.leaf_id for f in latest_revisions(store.feedback())] == [STALL]


def test_unreviewed_answers_leave_the_queue_once_someone_gave_feedback(tmp_path):
    store = SqliteFeedbackStore(tmp_path / "reports.sqlite")
    store.add_answers([answer("a", 0), answer("b", 1), answer("old", -60 * 24 * 40)])
    store.record(feedback("a"))
    assert [a.report_id for a in store.unreviewed(T0 - timedelta(days=30), 10)] == ["b"]
    assert store.answers(["b", "zz"])["b"].model_version == "3"


# ---- corrections as training rows -----------------------------------------------------------------------
def test_the_latest_revision_with_a_leaf_labels_each_report_once():
    items = [
        feedback("r1", 1, NOISE, 0),
        feedback("r1", 2, STALL, 1),
        feedback("r1", 3, None, 2, closed_at=T0),  # a case time only: the label stays STALL
        feedback("r2", 1, NOISE, 3),
        feedback("r3", 1, NOISE, 4, text="   "),  # no text to learn from
    ]
    frame = corrections_frame(items)
    assert frame.select("event_id", "leaf_id").rows() == [("r1", STALL), ("r2", NOISE)]
    assert set(frame.get_column("split")) == {TRAIN}  # too few to hold any out


def test_the_newest_share_is_held_out_and_repeated_texts_keep_their_latest_label():
    items = [feedback(f"r{i:02d}", minutes=i, text=f"第{i}条") for i in range(MIN_HOLDOUT_CORRECTIONS + 5)]
    items.append(feedback("again", minutes=99, text="第0条", leaf_id=STALL))
    frame = corrections_frame(items, holdout_share=0.2)
    assert frame.height == MIN_HOLDOUT_CORRECTIONS + 5  # "第0条" kept once, with its latest label
    assert frame.filter(pl.col("text") == "第0条").get_column("leaf_id").to_list() == [STALL]
    held = frame.filter(pl.col("split") == HOLDOUT)
    assert (
        held.height == 5
        and held.get_column("received_at").min()
        > frame.filter(pl.col("split") == TRAIN).get_column("received_at").max()
    )


# ---- the review queue's ranking -------------------------------------------------------------------------
def test_uncertain_novel_and_disputed_reports_rank_first():
    candidates = [
        Candidate(margin=0.9, novelty=0.0),
        Candidate(margin=0.1, novelty=0.0),
        Candidate(margin=0.9, novelty=0.5),
        Candidate(margin=0.9, novelty=0.0, disagreement=True),
    ]
    priority, uncertainty = priorities(candidates)
    assert priority[1] > priority[0] and priority[2] > priority[0] and priority[3] > priority[0]
    assert uncertainty[1] == pytest.approx(0.9)


def test_the_queue_spreads_over_phrasings_before_repeating_one():
    texts = ["楼道里堆满杂物堵住消防通道"] * 3 + ["广场舞音响声音太吵", "小区门口有人占道摆摊卖水果"]
    priority = np.array([5.0, 4.9, 4.8, 1.0, 0.5])
    assert diverse_top(texts, priority, 3) == [0, 3, 4]
    assert diverse_top(texts, priority, 4) == [0, 3, 4, 1]  # filled by priority when nothing else is left


# ---- the gate with the newest corrections ---------------------------------------------------------------
RECENT = PROMOTION_RULES["gridsense-text"].recent


@pytest.mark.parametrize(
    ("challenger", "passed"),
    [
        ({"macro_f1_leaf": 0.80, RECENT: 0.90}, True),  # fixes today's mistakes, as good on the test set
        ({"macro_f1_leaf": 0.7985, RECENT: 0.90}, True),  # within the allowed drop
        ({"macro_f1_leaf": 0.79, RECENT: 0.90}, False),  # fixes today's mistakes but forgets last year
        ({"macro_f1_leaf": 0.82, RECENT: 0.50}, False),  # better on the test set, worse on today's
        ({"macro_f1_leaf": 0.82, RECENT: 0.60}, True),
        ({"macro_f1_leaf": 0.80, RECENT: 0.60}, False),  # no better on anything
    ],
)
def test_a_challenger_better_on_the_newest_corrections_is_preferred(challenger, passed):
    rule = PROMOTION_RULES["gridsense-text"]
    champion = {"macro_f1_leaf": 0.80, "macro_f1_l1": 0.9, RECENT: 0.60}
    assert rule.decide(champion, challenger | {"macro_f1_l1": 0.9}).passed is passed


def test_without_corrections_the_gate_is_unchanged():
    rule = PROMOTION_RULES["gridsense-text"]
    plain = PromotionRule(primary="macro_f1_leaf", guards={"macro_f1_l1": 0.002})
    champion, challenger = (
        {"macro_f1_leaf": 0.8, "macro_f1_l1": 0.9},
        {"macro_f1_leaf": 0.81, "macro_f1_l1": 0.9},
    )
    assert rule.decide(champion, challenger) == plain.decide(champion, challenger)


# ---- retrain text with corrections, end to end on a tiny set ----------------------------------------------
TINY = {
    NOISE: [
        "楼上半夜装修电钻声很大",
        "广场舞音响声音太吵",
        "隔壁工地夜间施工噪音扰民",
        "酒吧音乐声吵得睡不着",
    ],
    STALL: [
        "小区门口有人占道摆摊卖水果",
        "路边流动摊贩堵住人行道",
        "早市摊位占了半条马路",
        "商铺把货架摆到人行道上",
    ],
}
# each in the other leaf's words: the old model gets them wrong
NEW_PHRASING = {NOISE: "人行道早市摊位的喇叭", STALL: "广场舞旁边装修工地"}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_retrain_learns_new_phrasings_from_corrections_and_the_gate_scores_them(tmp_path):
    from mlflow import MlflowClient

    from core.audit import AuditLog
    from core.registry import CHALLENGER, CHAMPION, TEXT_MODEL_NAME
    from features.taxonomy import load_taxonomy
    from promotion.registry_ops import promote
    from training.tracking import use_local_store
    from training.train_text import train_text_model

    taxonomy = load_taxonomy()
    rows = [
        {
            "text": f"{text}，第{k}次",
            "leaf_id": leaf,
            "reported_at": T0 + timedelta(hours=len(rows_)),
            "split": s,
        }
        for rows_ in [[]]
        for k, s in enumerate(["train"] * 5 + ["test"])
        for leaf, texts in TINY.items()
        for text in texts
    ]
    dataset = pl.DataFrame(rows)
    path = tmp_path / "text.parquet"
    dataset.write_parquet(path)
    use_local_store(tmp_path, "gridsense-text")
    params = {"ngram_range": (1, 2), "min_df": 1, "calibration_cv": 2}
    plain = train_text_model(dataset, taxonomy, path, tmp_path, alias=CHAMPION, params=params)
    assert not any(key.startswith(HOLDOUT) for key in plain.metrics)  # zero corrections: as before

    people = [
        feedback(f"c{i}", minutes=i, leaf_id=leaf, text=f"{NEW_PHRASING[leaf]}，编号{i}")
        for i, leaf in enumerate([NOISE, STALL] * 15)
    ]
    corrections = corrections_frame(people, holdout_share=0.2)
    result = train_text_model(
        dataset,
        taxonomy,
        path,
        tmp_path,
        alias=CHALLENGER,
        params=params,
        corrections=corrections,
        correction_weight=3,
        corrections_source="test-store",
    )
    assert result.metrics[f"{HOLDOUT}.rows"] == 6 and result.metrics[f"{HOLDOUT}.accuracy"] == 1.0
    client = MlflowClient()
    run = client.get_run(result.run_id)
    assert run.data.params["corrections.trained"] == "24" and run.data.params["corrections.held_out"] == "6"
    assert {d.dataset.name for d in run.inputs.dataset_inputs} == {
        "corrections-training",
        f"corrections-{HOLDOUT}",
    }

    outcome = promote(client, TEXT_MODEL_NAME, AuditLog(tmp_path / "audit.jsonl"), "user:test")
    comparison = outcome.comparison
    assert "6 newest corrections held out" in comparison.eval_set
    assert comparison.challenger[f"{HOLDOUT}.accuracy"] > comparison.champion[f"{HOLDOUT}.accuracy"]


def test_export_feedback_hands_the_monitor_traffic_with_the_peoples_leaves(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cli.app import app
    from core.report_store import redacted
    from core.settings import Settings
    from monitoring.traffic import CORRECTION_COLUMN, load_reports

    monkeypatch.setenv("GRIDSENSE_HOME", str(tmp_path))
    path = Settings().report_store_path
    path.parent.mkdir(parents=True)
    store = SqliteFeedbackStore(path)
    store.add(
        [redacted(i, T0 + timedelta(hours=n), f"第{n}条，电话13812345678") for n, i in enumerate("abc")]
    )
    store.add_answers([answer("a"), answer("b"), answer("c")])
    store.record(feedback("b", leaf_id=STALL))
    store.close()
    out = tmp_path / "traffic.parquet"

    result = CliRunner().invoke(app, ["export-feedback", "--out", str(out)])

    assert result.exit_code == 0, result.output
    traffic = load_reports([out])
    assert traffic.get_column(CORRECTION_COLUMN).to_list() == [None, STALL, None]
    assert not any("13812345678" in text for text in traffic.get_column("text"))
