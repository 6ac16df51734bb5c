"""Decoding input files: UTF-8 (with or without a BOM), GBK / GB18030 and whatever else is detected.

``auto`` tries, in order: a byte-order mark; strict UTF-8; then ``charset-normalizer``'s guesses,
preferring GB18030 when it is among them (the logs are Chinese, and GB18030 is a superset of GBK and
GB2312, so it also reads their files). GBK and GB2312 given by name are read as GB18030 for the same
reason. Bytes that do not decode become U+FFFD, which the event loader rejects row by row; nothing is
dropped silently.
"""

from __future__ import annotations

import codecs

from features.errors import DataFileError

AUTO = "auto"
_CHINESE = ("gb18030", "gbk", "gb2312")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: its BOM starts with UTF-16-LE's
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes, encoding: str = AUTO) -> tuple[str, str]:
    """``(text, encoding used)``. ``encoding`` is ``auto`` or any Python codec name."""
    if encoding.strip().lower() != AUTO:
        name = canonical(encoding)
        return data.decode(name, errors="replace"), name
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace"), name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        name = guess(data)
    return data.decode(name, errors="replace"), name


def canonical(encoding: str) -> str:
    """Python's name for ``encoding``; GBK and GB2312 widen to GB18030. Unknown names are a user error."""
    try:
        name = codecs.lookup(encoding.strip()).name
    except LookupError:
        raise DataFileError(
            f"unknown encoding {encoding!r}", "use auto, utf-8, gb18030, gbk or another Python codec name"
        ) from None
    return "gb18030" if name in _CHINESE else name


def guess(data: bytes) -> str:
    """charset-normalizer's best guess for bytes that are not UTF-8, GB18030 first (see above)."""
    from charset_normalizer import from_bytes  # imported when needed: most files are UTF-8

    guesses = [match.encoding for match in from_bytes(data)]
    if any(guess in _CHINESE for guess in guesses):
        return "gb18030"
    return canonical(guesses[0]) if guesses else "utf-8"
