"""Text normalisation and PII redaction for event reports.

Normalisation (:func:`normalize_text`), in this order:

1. Unicode NFKC: full-width letters, digits and symbols (``ＡＢＣ１２３＠－``) become ASCII, so the
   PII patterns and the classifier see one form. NFKC also turns the full-width Chinese marks
   ``，！？；：`` into ASCII ``,!?;:`` (it leaves ``。、“”【】`` alone).
2. Whitespace, control and zero-width characters (incl. the ideographic space) collapse to one space;
   leading and trailing space is stripped.
3. Lower-case (only Latin text has case here); the PII placeholders stay upper-case, so that normalising
   already-prepared text changes nothing.
4. Chinese sentence punctuation is canonical: ASCII ``, ! ? ; :`` become ``，！？；：`` (so ``漏水,请处理``
   and ``漏水，请处理`` normalise alike), except ``,`` and ``:`` between two digits (``1,000``, ``10:30``).
   ``.`` is never folded (decimals, e-mail addresses, ellipses); ``。、“”【】`` are untouched.

Both the Python and the polars version run the same regexes in the same order (no look-arounds, which
polars lacks), so they agree character for character.

Redaction (:func:`redact_pii`) replaces, on normalised or raw text: e-mail addresses ``<EMAIL>``,
18-digit resident ID numbers with a valid check digit ``<ID>``, 16-19 digit bank cards passing the Luhn
check ``<CARD>``, mobile numbers (optionally ``+86``, spaces, dashes) ``<PHONE>``, landlines with an area
code ``<TEL>`` and licence plates (incl. new-energy plates; any letter/digit mix is accepted, favouring
recall over precision) ``<PLATE>``. Numbers that fail the checksums
are left alone, as are ordinary numbers (``3栋2单元``, ``2024年``).

:func:`prepare_text` / :func:`prepare_text_expr` give the model input: ``title。text``, normalised and
redacted. The polars version normalises natively and runs the Python redaction only on rows that could
contain PII; both give the same result (up to characters added after Unicode 14, where Python's and
polars' Unicode tables differ).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import polars as pl

PLACEHOLDERS: tuple[str, ...] = ("<ID>", "<PHONE>", "<TEL>", "<EMAIL>", "<CARD>", "<PLATE>")
TITLE_SEPARATOR = "。"
LEAD_MAX_CHARS = 64
_LEAD = re.compile(r"[^。！？!?]*")

_FULL_WIDTH_MARKS = {",": "，", "!": "！", "?": "？", ";": "；", ":": "："}
# Noncharacters (never valid in interchange): mark digit-context ',' and ':' while the others are folded.
_KEPT_MARKS = {",": "\ufdd0", ":": "\ufdd1"}
# Everything a human would see as blank: ASCII/C1 controls, Unicode spaces, zero-width characters,
# and the noncharacters used above.
_BLANK_CHARS = "\x00-\x20\x7f-\xa0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff\ufdd0-\ufdef"
_BLANK = f"[{_BLANK_CHARS}]+"
_BLANK_RE = re.compile(_BLANK)
_DIGIT_CONTEXT = {mark: f"([0-9]){re.escape(mark)}([0-9])" for mark in _KEPT_MARKS}
_DIGIT_CONTEXT_RES = {mark: re.compile(pattern) for mark, pattern in _DIGIT_CONTEXT.items()}

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# re.ASCII: \d is 0-9 only, like the native pre-filter below (NFKC leaves e.g. Arabic-Indic digits alone).
_EMAIL_RE = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", re.IGNORECASE | re.ASCII)
_ID_RE = re.compile(r"(?<!\d)[1-8]\d{16}[\dxX](?![\dxX])", re.ASCII)
_CARD_RE = re.compile(r"(?<!\d)(?:\d{16,19}|\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?)(?!\d)", re.ASCII)
_PHONE_RE = re.compile(r"(?<!\d)(?:\(?(?:\+|00)?86\)?[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)", re.ASCII)
_TEL_RE = re.compile(r"(?<!\d)(?:\(0\d{2,3}\)|0\d{2,3}[ -])[ ]?\d{7,8}(?!\d)", re.ASCII)
_PLATE_RE = re.compile(
    f"[{_PROVINCES}][A-HJ-NP-Z][·•・ ]?[A-HJ-NP-Z0-9]{{4,5}}[A-HJ-NP-Z0-9挂学警港澳](?![A-Z0-9])",
    re.IGNORECASE | re.ASCII,
)
# A superset of what the patterns above can match, cheap to test natively: '@', three digits in a row,
# or a province character followed by a letter.
_PII_CANDIDATE = f"@|[0-9]{{3}}|(?i:[{_PROVINCES}][a-z])"

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_DIGITS = "10X98765432"


# ---- normalisation -------------------------------------------------------------------------------
def normalize_text(text: str) -> str:
    """NFKC, blanks collapsed, lower-cased, Chinese punctuation canonical (see module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    text = _BLANK_RE.sub(" ", text).strip(" ")
    text = text.lower()
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder.lower(), placeholder)
    for mark, kept in _KEPT_MARKS.items():
        text = _DIGIT_CONTEXT_RES[mark].sub(f"\\g<1>{kept}\\g<2>", text)
    for ascii_mark, full_width in _FULL_WIDTH_MARKS.items():
        text = text.replace(ascii_mark, full_width)
    for mark, kept in _KEPT_MARKS.items():
        text = text.replace(kept, mark)
    return text


def normalize_text_expr(column: str | pl.Expr) -> pl.Expr:
    """Polars version of :func:`normalize_text` (nulls stay null)."""
    expr = _as_expr(column).str.normalize("NFKC").str.replace_all(_BLANK, " ").str.strip_chars(" ")
    expr = expr.str.to_lowercase()
    expr = expr.str.replace_many([p.lower() for p in PLACEHOLDERS], list(PLACEHOLDERS))
    for mark, kept in _KEPT_MARKS.items():
        expr = expr.str.replace_all(_DIGIT_CONTEXT[mark], f"${{1}}{kept}${{2}}")
    expr = expr.str.replace_many(list(_FULL_WIDTH_MARKS), list(_FULL_WIDTH_MARKS.values()))
    return expr.str.replace_many(list(_KEPT_MARKS.values()), list(_KEPT_MARKS))


def is_blank_expr(column: str | pl.Expr) -> pl.Expr:
    """True where :func:`normalize_text` would give "" (only blanks; NFKC never turns a visible
    character into a blank one), without the cost of normalising. Nulls count as blank."""
    return ~_as_expr(column).str.contains(f"[^{_BLANK_CHARS}]").fill_null(False)


# ---- PII redaction -------------------------------------------------------------------------------
def redact_pii(text: str) -> str:
    """Replace personal data with placeholders; checksum-failing numbers are kept."""
    text = _EMAIL_RE.sub("<EMAIL>", text)
    text = _ID_RE.sub(lambda m: "<ID>" if is_valid_resident_id(m.group()) else m.group(), text)
    text = _CARD_RE.sub(lambda m: "<CARD>" if is_luhn_valid(_digits(m.group())) else m.group(), text)
    text = _PHONE_RE.sub("<PHONE>", text)
    text = _TEL_RE.sub("<TEL>", text)
    return _PLATE_RE.sub("<PLATE>", text)


def is_valid_resident_id(number: str) -> bool:
    """18-character PRC resident ID: plausible birth month/day and a valid ISO 7064 check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    month, day = int(number[10:12]), int(number[12:14])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK_DIGITS[total % 11] == number[17].upper()


def is_luhn_valid(digits: str) -> bool:
    if not 16 <= len(digits) <= 19 or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def redact_pii_expr(column: str | pl.Expr) -> pl.Expr:
    """Polars version of :func:`redact_pii`: Python regexes, but only on rows that may hold PII."""
    return _as_expr(column).map_batches(_redact_series, return_dtype=pl.String, is_elementwise=True)


def _redact_series(texts: pl.Series) -> pl.Series:
    candidates = texts.str.contains(_PII_CANDIDATE).fill_null(False).arg_true()
    if candidates.is_empty():
        return texts
    redacted = [redact_pii(text) for text in texts.gather(candidates).to_list()]
    return texts.clone().scatter(candidates, redacted)


# ---- model input -----------------------------------------------------------------------------------
def prepare_text(title: str | None, text: str | None) -> str:
    """The classifier's input: normalised ``title。text`` with PII redacted (empty parts are skipped)."""
    parts = [normalize_text(part) for part in (title, text) if part]
    return redact_pii(TITLE_SEPARATOR.join(part for part in parts if part))


def prepare_text_expr(title: str | pl.Expr | None, text: str | pl.Expr) -> pl.Expr:
    """Polars version of :func:`prepare_text`; ``title=None`` means there is no title column."""
    title_expr = pl.lit(None, dtype=pl.String) if title is None else _as_expr(title)
    joined = title_text_expr(normalize_text_expr(title_expr), normalize_text_expr(_as_expr(text)))
    return redact_pii_expr(joined)


def title_text_expr(title: str | pl.Expr, text: str | pl.Expr) -> pl.Expr:
    """``title。text``, leaving out a null or empty part (never "。text" or "title。"); null if both are."""
    parts = [_null_if_empty(_as_expr(part)) for part in (title, text)]
    return pl.concat_str(parts, separator=TITLE_SEPARATOR, ignore_nulls=True)


def prepare_texts(texts: Sequence[str | None], titles: Sequence[str | None] | None = None) -> list[str]:
    """Batch :func:`prepare_text` for models: same result, vectorised."""
    frame = pl.DataFrame(
        {"title": titles if titles is not None else [None] * len(texts), "text": list(texts)},
        schema={"title": pl.String, "text": pl.String},
    )
    return frame.select(prepare_text_expr("title", "text")).to_series().to_list()


def lead_sentences(texts: Sequence[str], max_chars: int = LEAD_MAX_CHARS) -> list[str]:
    """The title of each prepared ``title。text`` (or, without a title, its first sentence), at most
    ``max_chars`` characters: what a report is about is usually said first."""
    # A regex per text, not a polars query: this runs inside the classifier on every request, where a
    # query's fixed cost (~0.3 ms per expression) would double single-report latency.
    return [_LEAD.match(text or "").group(0)[:max_chars] for text in texts]


def _null_if_empty(expr: pl.Expr) -> pl.Expr:
    return expr.replace("", None)  # not when/then: that would evaluate `expr` twice


def _as_expr(column: str | pl.Expr) -> pl.Expr:
    return pl.col(column) if isinstance(column, str) else column
