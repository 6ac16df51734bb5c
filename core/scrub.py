"""Make any Python ``str`` safe text: the first step of every text path in ``features.text``.

A ``str`` can hold what no UTF-8 consumer accepts: JSON may spell a lone UTF-16 surrogate
(``"\\ud800"``), and polars, tokenizers and log handlers then raise ``UnicodeEncodeError`` deep inside.
:func:`scrub_text` replaces each lone surrogate by U+FFFD (a well-formed pair becomes its character) and
drops what is invisible and has no meaning in a report:

- C0 controls except tab and line feed, DEL and C1 controls (NUL bytes, terminal escapes); the other
  line breaks (CR, CR LF, vertical tab, form feed) become a line feed;
- zero-width and bidirectional formatting characters (U+200B-U+200F, U+202A-U+202E, U+2060-U+2064,
  U+2066-U+2069, U+FEFF): they hide text from a reader and can split a phone number so that no pattern
  sees it;
- the noncharacters U+FDD0-U+FDEF, which ``features`` uses as internal markers.

:func:`scrub_text_expr` does the same to a polars column (whose strings are always valid UTF-8, so only
the dropping applies).
"""

from __future__ import annotations

import re

import polars as pl

DROPPED_CHARS = (
    "\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069"
    "\\ufeff\\ufdd0-\\ufdef"
)
_DROPPED = f"[{DROPPED_CHARS}]+"  # the same patterns for Python's re and polars (Rust regex)
_DROPPED_RE = re.compile(_DROPPED)
_LINE_BREAK = "\r\n|[\r\x0b\x0c]"
_LINE_BREAK_RE = re.compile(_LINE_BREAK)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def scrub_text(text: str) -> str:
    """``text`` as valid, visible Unicode (see the module docstring). Idempotent; never raises."""
    if _SURROGATE_RE.search(text):
        # surrogatepass keeps every code point; decoding joins valid pairs and replaces lone halves
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _DROPPED_RE.sub("", _LINE_BREAK_RE.sub("\n", text))


def scrub_text_expr(expr: pl.Expr) -> pl.Expr:
    """Polars version of :func:`scrub_text` (nulls stay null)."""
    return expr.str.replace_all(_LINE_BREAK, "\n").str.replace_all(_DROPPED, "")
