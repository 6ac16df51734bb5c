"""Text normalisation and PII redaction for event reports.

Normalisation (:func:`normalize_text`), in this order:

1. Unicode NFKC: full-width letters, digits and symbols (``ＡＢＣ１２３＠－``) become ASCII, so the
   PII patterns and the classifier see one form. NFKC also turns the full-width Chinese marks
   ``，！？；：`` into ASCII ``,!?;:`` (it leaves ``。、“”【】`` alone).
2. Whitespace (incl. the ideographic space and line breaks) collapses to one space; leading and trailing
   space is stripped. Controls and zero-width characters were already dropped by the scrub (below).
3. Lower-case (only Latin text has case here); the PII placeholders stay upper-case, so that normalising
   already-prepared text changes nothing.
4. Chinese sentence punctuation is canonical: ASCII ``, ! ? ; :`` become ``，！？；：`` (so ``漏水,请处理``
   and ``漏水，请处理`` normalise alike), except ``,`` and ``:`` between two digits (``1,000``, ``10:30``).
   ``.`` is never folded (decimals, e-mail addresses, ellipses); ``。、“”【】`` are untouched.

Both the Python and the polars version run the same regexes in the same order (no look-arounds, which
polars lacks), so they agree character for character.

Every function here is total over Python ``str``: text is scrubbed first (``core.scrub``: lone
surrogates become U+FFFD; controls other than tab and newline, zero-width and bidirectional formatting
characters are dropped), so polars never sees a string it cannot encode.

Redaction (:func:`redact_pii`, :func:`redact_pii_expr`, rules in ``core.pii``) replaces personal data
(ID, phone, card, passport, QQ and WeChat numbers, e-mail addresses, licence plates, names after a cue)
by placeholders such as ``<PHONE>`` and ``<NAME>``, on normalised or raw text.

:func:`prepare_text` / :func:`prepare_text_expr` give the model input: ``title。text``, normalised and
redacted. The polars version runs natively (one regex pass per step); both give the same result (up to
characters added after Unicode 14, where Python's and polars' Unicode tables differ).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import polars as pl

from core.pii import PLACEHOLDERS, redact_pii, redact_pii_expr, redact_pii_value
from core.scrub import scrub_text, scrub_text_expr

__all__ = [
    "PLACEHOLDERS", "TITLE_SEPARATOR", "is_blank_expr", "join_title_text", "lead_sentences", "normalize_text",
    "normalize_text_expr", "prepare_text", "prepare_text_expr", "prepare_texts", "redact_pii",
    "redact_pii_expr", "redact_pii_value", "scrub_text", "scrub_text_expr", "title_text_expr",
]  # fmt: skip

TITLE_SEPARATOR = "。"
LEAD_MAX_CHARS = 64
# Below this many texts, prepare_texts loops in Python: a polars query has a fixed cost of about 3 ms
# (one regex pass per redaction rule), the Python rules take about 45 us per report.
VECTORISED_FROM = 64
_LEAD = re.compile(r"[^。！？!?]*")

_FULL_WIDTH_MARKS = {",": "，", "!": "！", "?": "？", ";": "；", ":": "："}
# Noncharacters (never valid in interchange): mark digit-context ',' and ':' while the others are folded.
_KEPT_MARKS = {",": "\ufdd0", ":": "\ufdd1"}
# Everything a human would see as blank: ASCII/C1 controls, Unicode spaces, zero-width characters,
# and the noncharacters used above.
_BLANK_CHARS = (
    "\x00-\x20\x7f-\xa0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u2069\u3000\ufeff\ufdd0-\ufdef"
)
_BLANK = f"[{_BLANK_CHARS}]+"
_BLANK_RE = re.compile(_BLANK)
_DIGIT_CONTEXT = {mark: f"([0-9]){re.escape(mark)}([0-9])" for mark in _KEPT_MARKS}
_DIGIT_CONTEXT_RES = {mark: re.compile(pattern) for mark, pattern in _DIGIT_CONTEXT.items()}


# ---- normalisation -------------------------------------------------------------------------------
def normalize_text(text: str) -> str:
    """Scrubbed, NFKC, blanks collapsed, lower-cased, Chinese punctuation canonical (module docstring)."""
    text = unicodedata.normalize("NFKC", scrub_text(text))
    text = _BLANK_RE.sub(" ", text).strip(" ")
    text = text.lower()
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder.lower(), placeholder)
    return _fold_marks(text)


def _fold_marks(text: str) -> str:
    """ASCII sentence marks become Chinese ones, except ',' and ':' between two digits."""
    for mark, kept in _KEPT_MARKS.items():
        text = _DIGIT_CONTEXT_RES[mark].sub(f"\\g<1>{kept}\\g<2>", text)
    for ascii_mark, full_width in _FULL_WIDTH_MARKS.items():
        text = text.replace(ascii_mark, full_width)
    for mark, kept in _KEPT_MARKS.items():
        text = text.replace(kept, mark)
    return text


def normalize_text_expr(column: str | pl.Expr) -> pl.Expr:
    """Polars version of :func:`normalize_text` (nulls stay null)."""
    expr = scrub_text_expr(_as_expr(column)).str.normalize("NFKC")
    expr = expr.str.replace_all(_BLANK, " ").str.strip_chars(" ")
    expr = expr.str.to_lowercase()
    expr = expr.str.replace_many([p.lower() for p in PLACEHOLDERS], list(PLACEHOLDERS))
    return _fold_marks_expr(expr)


def _fold_marks_expr(expr: pl.Expr) -> pl.Expr:
    for mark, kept in _KEPT_MARKS.items():
        expr = expr.str.replace_all(_DIGIT_CONTEXT[mark], f"${{1}}{kept}${{2}}")
    expr = expr.str.replace_many(list(_FULL_WIDTH_MARKS), list(_FULL_WIDTH_MARKS.values()))
    return expr.str.replace_many(list(_KEPT_MARKS.values()), list(_KEPT_MARKS))


def is_blank_expr(column: str | pl.Expr) -> pl.Expr:
    """True where :func:`normalize_text` would give "" (only blanks; NFKC never turns a visible
    character into a blank one), without the cost of normalising. Nulls count as blank."""
    return ~_as_expr(column).str.contains(f"[^{_BLANK_CHARS}]").fill_null(False)


# ---- model input -----------------------------------------------------------------------------------
def join_title_text(title: str | None, text: str | None) -> str:
    """``title。text`` as every GridSense model reads a report; a missing or blank part is left out (never
    "。text" or "title。"). :func:`title_text_expr` is the same join for polars columns."""
    return TITLE_SEPARATOR.join(part for part in (title, text) if part and part.strip())


def prepare_text(title: str | None, text: str | None) -> str:
    """The classifier's input: normalised ``title。text`` with PII redacted (empty parts are skipped)."""
    joined = join_title_text(*(normalize_text(part) if part else None for part in (title, text)))
    # marks fold again: a ',' kept between two digits is no longer between digits once they are redacted
    return _fold_marks(redact_pii(joined))


def prepare_text_expr(title: str | pl.Expr | None, text: str | pl.Expr) -> pl.Expr:
    """Polars version of :func:`prepare_text`; ``title=None`` means there is no title column."""
    title_expr = pl.lit(None, dtype=pl.String) if title is None else _as_expr(title)
    joined = title_text_expr(normalize_text_expr(title_expr), normalize_text_expr(_as_expr(text)))
    return _fold_marks_expr(redact_pii_expr(joined))


def title_text_expr(title: str | pl.Expr, text: str | pl.Expr) -> pl.Expr:
    """``title。text``, leaving out a null or empty part (never "。text" or "title。"); null if both are."""
    parts = [_null_if_empty(_as_expr(part)) for part in (title, text)]
    return pl.concat_str(parts, separator=TITLE_SEPARATOR, ignore_nulls=True)


def prepare_texts(texts: Sequence[str | None], titles: Sequence[str | None] | None = None) -> list[str]:
    """Batch :func:`prepare_text` for models: the same result ("" when both parts are empty); vectorised
    from ``VECTORISED_FROM`` texts on."""
    titles = [None] * len(texts) if titles is None else titles
    if len(texts) < VECTORISED_FROM:
        return [prepare_text(title, text) for title, text in zip(titles, texts, strict=True)]
    frame = pl.DataFrame(
        {"title": _scrubbed(titles), "text": _scrubbed(texts)}, schema={"title": pl.String, "text": pl.String}
    )
    return frame.select(prepare_text_expr("title", "text").fill_null("")).to_series().to_list()


def lead_sentences(texts: Sequence[str], max_chars: int = LEAD_MAX_CHARS) -> list[str]:
    """The title of each prepared ``title。text`` (or, without a title, its first sentence), at most
    ``max_chars`` characters: what a report is about is usually said first."""
    # A regex per text, not a polars query: this runs inside the classifier on every request, where a
    # query's fixed cost (~0.3 ms per expression) would double single-report latency.
    return [scrub_text(_LEAD.match(text or "").group(0)[:max_chars]) for text in texts]


def _scrubbed(texts: Sequence[str | None]) -> list[str | None]:
    """Python strings made safe for polars (a lone surrogate would raise UnicodeEncodeError)."""
    return [text if text is None else scrub_text(text) for text in texts]


def _null_if_empty(expr: pl.Expr) -> pl.Expr:
    return expr.replace("", None)  # not when/then: that would evaluate `expr` twice


def _as_expr(column: str | pl.Expr) -> pl.Expr:
    return pl.col(column) if isinstance(column, str) else column
