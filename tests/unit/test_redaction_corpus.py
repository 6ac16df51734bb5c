"""The redaction corpus (tests/pii_corpus.py) against every place a report text goes: the redaction
functions themselves, the text training set parquet, the dashboard's recent-reports table, evidence
phrases, the logs and the audit log. (The API answers: tests/serving/test_api_pii.py.)"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from batch.dashboard_tables import recent_reports
from core.audit import AuditLog
from core.pii import redaction_matches
from features.events import load_events
from features.taxonomy import load_taxonomy
from features.text import (
    PLACEHOLDERS,
    VECTORISED_FROM,
    normalize_text,
    prepare_text,
    prepare_texts,
    redact_pii,
    redact_pii_expr,
    redact_pii_value,
)
from features.text_dataset import build_text_dataset
from models.text_prediction import LeafProbabilityOutputs
from serving.logs import JsonFormatter
from serving.text_service import PreparedItem, TextClassifierService
from tests.pii_corpus import CORPUS, KEPT, Case

PLACEHOLDER_OF = {
    "id": ("<ID>", "<CARD>"),  # a 17-digit mistyped ID is redacted as a card-shaped number
    "mobile": ("<PHONE>",),
    "landline": ("<TEL>", "<PHONE>"),
    "email": ("<EMAIL>",),
    "card": ("<CARD>", "<ID>"),  # an 18-digit card number has an ID's shape
    "plate": ("<PLATE>",),
    "name": ("<NAME>",),
    "qq": ("<QQ>",),
    "wechat": ("<WECHAT>", "<PHONE>"),
    "passport": ("<PASSPORT>",),
}
ALL_TEXT = "\n".join(case.text for case in CORPUS)


def _squeezed(text: str) -> str:
    return re.sub(r"[\s\-]", "", normalize_text(text))


def leaked(output: str, cases: tuple[Case, ...] | list[Case] = CORPUS) -> list[str]:
    """The corpus tokens found in `output`, as written, normalised, or as 7 digits in a row of them."""
    found, squeezed = [], _squeezed(output)
    for case in cases:
        for token in case.tokens:
            digits = re.sub(r"\D", "", normalize_text(token))
            windows = {digits[i : i + 7] for i in range(len(digits) - 6)}
            if token in output or _squeezed(token) in squeezed or any(w in squeezed for w in windows):
                found.append(token)
    return found


# ---- the functions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CORPUS, ids=lambda case: f"{case.kind}:{case.text}")
def test_every_corpus_case_is_redacted_by_every_entry_point(case: Case) -> None:
    redacted = redact_pii(case.text)
    outputs = {
        "redact_pii": redacted,
        "redact_pii_expr": pl.select(redact_pii_expr(pl.lit(case.text))).item(),
        "prepare_text": prepare_text(None, case.text),
        "prepare_text(title)": prepare_text(case.text, "正文"),
        "prepare_texts": prepare_texts([case.text])[0],
        "prepare_texts(vectorised)": prepare_texts([case.text] * VECTORISED_FROM)[0],
    }
    assert {name: leaked(output, [case]) for name, output in outputs.items()} == dict.fromkeys(outputs, [])
    if case.tokens:
        assert any(placeholder in redacted for placeholder in PLACEHOLDER_OF[case.kind]), redacted
    assert redact_pii(redacted) == redacted


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_numbers_and_words_are_kept(text: str) -> None:
    assert redact_pii(text) == text


def test_the_kept_forms_of_address_are_decided() -> None:
    # plural and anonymous forms of address name nobody; a surname before one is a name
    assert redact_pii("女士们、先生们，王先生们") == "女士们、先生们，<NAME>先生们"
    assert redact_pii("谢谢王师傅，谢谢师傅") == "谢谢<NAME>师傅，谢谢师傅"


# ---- where the text goes ---------------------------------------------------------------------------
def _events() -> pl.DataFrame:
    start = datetime(2025, 1, 1)
    return pl.DataFrame(
        {
            "event_id": [f"E{i:03d}" for i in range(len(CORPUS))],
            "reported_at": [start + timedelta(hours=i) for i in range(len(CORPUS))],
            "grid_id": ["G0001", "G0002"] * (len(CORPUS) // 2) + ["G0001"] * (len(CORPUS) % 2),
            "channel": ["hotline"] * len(CORPUS),
            "title": [case.text if i % 3 == 0 else None for i, case in enumerate(CORPUS)],
            "text": [f"反映：{case.text}" for case in CORPUS],
            "status": ["open"] * len(CORPUS),
            "leaf_id": ["a", "b"] * (len(CORPUS) // 2) + ["a"] * (len(CORPUS) % 2),
            "category_l1": ["x"] * len(CORPUS),
            "category_l2": ["x"] * len(CORPUS),
            "category_l3": ["x"] * len(CORPUS),
            "risk_group": ["none"] * len(CORPUS),
        }
    )


def _strings(frame: pl.DataFrame) -> str:
    """Every cell, "|"-separated (so that digits of neighbouring cells never read as one number)."""
    return "|".join(
        str(value) for column in frame.columns for value in frame.get_column(column).cast(pl.String).to_list()
    )


def test_the_training_set_parquet_holds_no_corpus_token(tmp_path) -> None:
    path = tmp_path / "text.parquet"
    build_text_dataset(_events()).write_parquet(path)
    stored = pl.read_parquet(path)
    assert stored.height == len(CORPUS)
    assert leaked(_strings(stored)) == []


class _Stub:
    """A text model for the dashboard table: every report gets the same leaf."""

    def describe(self, texts, top_k=3, review_threshold=None):
        fields = dict(leaf_id="a", category_l1="x", category_l2="x", category_l3="x", department="d",
                      risk_group="none", p_l3=0.9, needs_review=False)  # fmt: skip
        return [type("Prediction", (), fields)() for _ in texts]


def test_the_dashboard_reports_table_holds_no_corpus_token() -> None:
    table = recent_reports(_events(), _Stub(), per_grid=len(CORPUS), model_name="m", model_version="1")
    assert table.height == len(CORPUS)
    assert leaked(_strings(table)) == []


class _PiiSensitiveModel(LeafProbabilityOutputs):
    """Leaf "b" the more likely the more digits, placeholders and surname characters a text holds, so
    occlusion picks exactly the phrases around personal data as evidence."""

    classes_ = np.array(["a", "b"])

    def predict_proba(self, texts):
        texts = prepare_texts(list(texts))
        score = np.array([len(re.findall(r"[0-9<>@张王李黄欧阳刘陈周诸赵孙徐a-z]", t)) for t in texts])
        p_b = np.minimum(0.45 + 0.05 * score, 0.95)
        return np.column_stack([1 - p_b, p_b])


def test_evidence_phrases_hold_no_corpus_token() -> None:
    found = _PiiSensitiveModel().evidence([case.text for case in CORPUS], top_n=3)
    phrases = [evidence.phrase for row in found for evidence in row]
    assert phrases, "the stub should find evidence"
    assert leaked("\n".join(phrases)) == []
    assert any("<" in phrase for phrase in phrases)  # the placeholders were the evidence
    assert all(not re.search(r"<[A-Z]*$|^[A-Z]*>", phrase) for phrase in phrases)  # never cut in two


def test_log_lines_hold_no_corpus_token() -> None:
    record = logging.LogRecord("gridsense.test", logging.INFO, __file__, 1, "report %s", (ALL_TEXT,), None)
    record.__dict__.update(report={"text": ALL_TEXT, ALL_TEXT: [ALL_TEXT]})
    line = JsonFormatter().format(record)
    assert leaked(json.loads(line)["message"]) == []
    assert leaked(line.encode().decode("unicode_escape", errors="ignore")) == []
    assert leaked(json.dumps(json.loads(line), ensure_ascii=False)) == []


def test_audit_records_hold_no_corpus_token(tmp_path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("reload", "key:k1", note=ALL_TEXT, nested={"items": [ALL_TEXT, (ALL_TEXT,)]})
    written = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert leaked(written.replace("\\n", "\n")) == []


def test_structured_values_are_redacted_keys_included() -> None:
    redacted = redact_pii_value({"电话13812345678": ["13812345678", ("13812345678",)], "n": 5})
    assert redacted == {"电话<PHONE>": ["<PHONE>", ["<PHONE>"]], "n": 5}


def test_every_placeholder_ends_the_way_the_number_edge_expects() -> None:
    # core.pii.B leaves digits after "[DELQT]>" alone (the rest of a redacted number)
    assert all(placeholder[-2] in "DELQT" for placeholder in PLACEHOLDERS)
    assert redact_pii("<b>13812345678</b>") == "<b><PHONE></b>"


class _RawEvidenceClassifier:
    """A classifier that (wrongly) returns evidence phrases from the raw text."""

    def describe(self, texts, top_k=3, review_threshold=None, label_threshold=None):
        fields = dict(leaf_id="a", category_l1="x", category_l2="x", category_l3="x", p_l1=0.9, p_l2=0.9,
                      p_l3=0.9, department="d", risk_group="none", needs_review=False, alternatives=(),
                      labels=())  # fmt: skip
        return [SimpleNamespace(**fields) for _ in texts]

    def evidence(self, texts, top_n=3):
        return [
            tuple(SimpleNamespace(phrase=clause, weight=0.5) for clause in text.split("，")) for text in texts
        ]


def test_the_service_redacts_evidence_from_any_classifier() -> None:
    service = TextClassifierService(_RawEvidenceClassifier(), "stub", "1")
    items = [PreparedItem(str(i), case.text, evidence=True) for i, case in enumerate(CORPUS)]
    phrases = [e.phrase for result in service.predict(items) for e in result.evidence or []]
    assert len(phrases) >= len(CORPUS)
    assert leaked("\n".join(phrases)) == []


def test_redaction_matches_name_what_each_rule_replaced() -> None:
    text = "姓名：张三丰，黄先生来电，电话13812345678，车牌京A12345，3栋2单元"
    assert redaction_matches(text) == [
        ("phone_cue", "13812345678"),
        ("plate", "京A12345"),
        ("name_after_colon", "张三丰"),
        ("name_before_title", "黄先生"),
    ]
    assert all(redaction_matches(case.text) for case in CORPUS if case.tokens)
    assert [redaction_matches(text) for text in KEPT] == [[] for _ in KEPT]


def test_reject_files_hold_no_corpus_token(tmp_path) -> None:
    # every corpus report rejected (no grid), in the text and in a shifted column
    frame = (
        _events()
        .drop("leaf_id", "category_l2", "category_l3", "risk_group")
        .with_columns(grid_id=pl.lit(None, pl.String), status=pl.col("text"))
    )
    load = load_events(frame.with_columns(pl.col("reported_at").cast(pl.String)), load_taxonomy(), False)
    assert load.rejects.height == len(CORPUS)
    for name in ("rejects.csv", "rejects.parquet"):
        written = load.write_rejects(tmp_path / name)
        content = written.read_text("utf-8") if name.endswith(".csv") else _strings(pl.read_parquet(written))
        assert leaked(content) == []
