"""Text normalisation, PII redaction and the model-input text (Python and polars versions)."""

from __future__ import annotations

import polars as pl
import pytest

from features.text import (
    VECTORISED_FROM,
    is_blank_expr,
    lead_sentences,
    normalize_text,
    normalize_text_expr,
    prepare_text,
    prepare_text_expr,
    prepare_texts,
    redact_pii,
)

VALID_ID = "11010519491231002X"  # the worked example of GB 11643 (check character X)
BAD_CHECKSUM_ID = "110105194912310021"  # same digits, wrong check character: still redacted
LUHN_CARD = "6222021234567890128"  # 19 digits, Luhn-valid
NON_LUHN_CARD = "6222021234567890127"  # still redacted


def resident_id(body17: str) -> str:
    """Independent check-character computation (ISO 7064 MOD 11-2), to build test IDs."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(body17))
    return body17 + "10X98765432"[total % 11]


# ---- normalisation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),  # full-width Latin/digits -> ASCII, lower-cased
        ("  楼道\u3000灯坏了 \t\n  ", "楼道 灯坏了"),  # ideographic space, tabs, newlines; stripped
        ("井\u200b盖\ufeff丢了", "井盖丢了"),  # zero-width characters are dropped (scrub_text)
        ("漏水\r\n请处理\x00\x1b[31m", "漏水 请处理[31m"),  # line breaks are blanks, controls dropped
        ("漏水,请处理!谢谢?", "漏水，请处理！谢谢？"),  # ASCII marks become Chinese ones
        ("漏水，请处理！谢谢？", "漏水，请处理！谢谢？"),  # NFKC would make them ASCII: kept Chinese
        ("时间：１０：３０，共1,000元。", "时间：10:30，共1,000元。"),  # digit context keeps ':' and ','
        ("Hello WORLD", "hello world"),
        ("已转<PHONE>处理", "已转<PHONE>处理"),  # placeholders stay upper-case
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_normalize_text_is_idempotent() -> None:
    raw = "  ＴＥＬ：１３８　００１３　８０００，楼上噪音!!  <phone> "
    once = normalize_text(raw)
    assert normalize_text(once) == once


def test_blank_check_agrees_with_normalisation() -> None:
    texts = ["", "  ", "\u3000\u200b\t", "\x00\x1f", "a", " 。 ", "\u00a0x"]
    blank = pl.select(is_blank_expr(pl.Series(texts))).to_series().to_list()
    assert blank == [normalize_text(t) == "" for t in texts]


# ---- redaction -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"身份证号{VALID_ID}请核实", "身份证号<ID>请核实"),
        (f"身份证号{resident_id('33010619900101123')}。", "身份证号<ID>。"),
        (f"证件{BAD_CHECKSUM_ID}", "证件<ID>"),  # a mistyped ID is still personal data
        ("电话13800138000", "电话<PHONE>"),
        ("电话 +86 138 0013 8000。", "电话 <PHONE>。"),
        ("电话+86-138-0013-8000", "电话<PHONE>"),
        ("电话(+86)13800138000", "电话<PHONE>"),
        ("电话8613800138000", "电话<PHONE>"),
        ("打0571-88886666找物业", "打<TEL>找物业"),
        ("打(010)12345678", "打<TEL>"),
        ("邮箱zhang.san@163.com谢谢", "邮箱<EMAIL>谢谢"),
        (f"卡号{LUHN_CARD}被盗刷", "卡号<CARD>被盗刷"),
        ("卡号4111 1111 1111 1111", "卡号<CARD>"),
        (f"卡号{NON_LUHN_CARD}", "卡号<CARD>"),  # so is a card number failing the Luhn check
        ("车牌浙A12345占道", "车牌<PLATE>占道"),
        ("粤B·D12345违停", "<PLATE>违停"),  # new-energy plate with a middle dot
        ("沪AD12345和苏E12345F", "<PLATE>和<PLATE>"),  # new-energy, small and large
        ("3栋2单元502室，2024年3月5日，10:30，花了1200元", "3栋2单元502室，2024年3月5日，10:30，花了1200元"),
        ("编号20240305001", "编号20240305001"),  # 11 digits but not a mobile prefix
    ],
)
def test_redact_pii(raw: str, expected: str) -> None:
    assert redact_pii(raw) == expected


def test_email_is_redacted_before_the_phone_inside_it() -> None:
    assert redact_pii("13800138000@qq.com") == "<EMAIL>"


def test_id_number_is_not_mistaken_for_a_phone() -> None:
    assert "<PHONE>" not in redact_pii(f"证件{resident_id('13800138000101011')}")


# ---- model input -------------------------------------------------------------------------------------
def test_prepare_text_joins_title_and_redacts() -> None:
    assert prepare_text("噪音扰民", "楼上电话：１３８－００１３－８０００") == "噪音扰民。楼上电话：<PHONE>"
    assert prepare_text(None, "路灯坏了") == "路灯坏了"
    assert prepare_text("  ", "路灯坏了") == "路灯坏了"
    assert prepare_text("路灯", None) == "路灯"
    assert prepare_text(None, None) == ""


def test_prepare_text_is_idempotent() -> None:
    once = prepare_text("ＩＤ", f"身份证{VALID_ID}，电话13800138000")
    assert "<ID>" in once and "<PHONE>" in once
    assert prepare_text(None, once) == once


CORPUS = [
    ("噪音扰民", "楼上装修，电话13800138000，晚上10:30还在施工！！"),
    (None, f"身份证{VALID_ID}，卡号{LUHN_CARD}，车牌浙A12345"),
    ("", "ＴＥＬ：０５７１－８８８８６６６６，邮箱Ａ.Ｂ@Example.COM"),
    ("  ", "\u3000\u200b漏水,请处理;谢谢:)"),
    ("标题", None),
    (None, None),
    ("Ünïcödé ΣΑΣ", "emoji 😀 ٣٣٣٣٣٣٣٣٣٣٣ 𠀀 \x07 \ufffd 1:2:3 a,,b"),
    ("号", f"{BAD_CHECKSUM_ID} {NON_LUHN_CARD} 20240305001"),
]


def test_polars_versions_match_python() -> None:
    frame = pl.DataFrame(CORPUS, schema={"title": pl.String, "text": pl.String}, orient="row")
    prepared = frame.select(prepare_text_expr("title", "text")).to_series().to_list()
    python = [prepare_text(title, text) for title, text in CORPUS]
    assert prepared == python
    normalised = frame.select(normalize_text_expr("text")).to_series().to_list()
    assert normalised == [None if text is None else normalize_text(text) for _, text in CORPUS]
    assert prepare_texts([t for _, t in CORPUS], [t for t, _ in CORPUS]) == python  # the Python path
    many = CORPUS * (VECTORISED_FROM // len(CORPUS) + 1)
    assert prepare_texts([t for _, t in many], [t for t, _ in many]) == python * (len(many) // len(CORPUS))


def test_prepare_text_expr_without_title_column() -> None:
    frame = pl.DataFrame({"text": ["电话13800138000", "无"]})
    assert frame.select(prepare_text_expr(None, "text")).to_series().to_list() == ["电话<PHONE>", "无"]


def test_lead_sentence_is_the_title_or_the_first_sentence():
    texts = ["噪音扰民。楼上每天半夜装修", "楼道灯坏了！请尽快修，谢谢", "没有句号的一整段话", "", "。正文"]
    assert lead_sentences(texts) == ["噪音扰民", "楼道灯坏了", "没有句号的一整段话", "", ""]
    assert lead_sentences(["一" * 100], max_chars=8) == ["一" * 8]
