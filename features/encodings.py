"""Decoding input files: UTF-8 (with or without a BOM), GBK / GB18030 and whatever else is detected.

``auto`` tries, in order: a byte-order mark; strict UTF-8; then ``charset-normalizer``'s guesses,
preferring GB18030 when it is among them (the logs are Chinese, and GB18030 is a superset of GBK and
GB2312, so it also reads their files). GBK and GB2312 given by name are read as GB18030 for the same
reason. Bytes that do not decode become U+FFFD, which the event loader rejects row by row; nothing is
dropped silently.
"""

from __future__ import annotations

import codecs
import re

from core.errors import DataFileError

AUTO = "auto"
SAMPLE_BYTES = 256 * 1024  # what charset-normalizer sees: the whole file costs ~0.4 s per 20 MB, for nothing
_NON_ASCII = re.compile(rb"[\x80-\xff]")
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


def decode_to_utf8(data: bytes, encoding: str = AUTO) -> tuple[str, bytes, str]:
    """``(text, text as UTF-8 bytes, encoding used)``; the bytes are ``data`` itself when it was UTF-8
    already and decoded without a replacement (no second copy)."""
    text, used = decode(data, encoding)
    lossless_utf8 = used == "utf-8" and encoding.strip().lower() == AUTO
    return text, data if lossless_utf8 else text.encode("utf-8"), used


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

    guesses = [match.encoding for match in from_bytes(_sample(data))]
    if any(guess in _CHINESE for guess in guesses):
        return "gb18030"
    return canonical(guesses[0]) if guesses else "utf-8"


def _sample(data: bytes) -> bytes:
    """Up to ``SAMPLE_BYTES`` whole lines from the first line with a non-ASCII byte (an ASCII start says
    nothing). Cutting at line breaks is safe: 0x0A is never part of a GBK/GB18030 multi-byte character."""
    first = _NON_ASCII.search(data)
    start = data.rfind(b"\n", 0, first.start()) + 1 if first else 0
    sample = data[start : start + SAMPLE_BYTES]
    if start + SAMPLE_BYTES < len(data) and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]
    return sample
