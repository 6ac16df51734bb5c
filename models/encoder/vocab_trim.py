"""Choose the vocabulary pieces a Chinese-only encoder keeps.

A piece is kept when it is special, when every character in it (the metaspace aside) belongs to
the script ranges Chinese reports use (CJK ideographs and punctuation, ASCII, full-width forms,
common symbols and emoji), or when it occurs in the tokenisation of a given corpus. Every kept
piece brings the single-character pieces of its characters, so any character the trimmed tokenizer
knows can always be segmented, and the lowest-scoring piece stays so the unknown-token score
(min score - 10) is unchanged. For text made only of kept characters the trimmed tokenizer then
finds exactly the segmentation of the full one: every piece that matches such text is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from tokenizers import Tokenizer

METASPACE = "▁"
CHINESE_TEXT_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00BF),  # Latin-1 punctuation and symbols (° · ¥)
    (0x00D7, 0x00D7),  # ×
    (0x00F7, 0x00F7),  # ÷
    (0x0370, 0x03FF),  # Greek (α β μ in technical text)
    (0x2000, 0x206F),  # general punctuation (— … ‘’ “”)
    (0x20A0, 0x20CF),  # currency
    (0x2100, 0x214F),  # letterlike (℃ №)
    (0x2150, 0x218F),  # number forms (Ⅻ)
    (0x2190, 0x23FF),  # arrows, maths, technical
    (0x2460, 0x27BF),  # enclosed alphanumerics, box drawing, shapes, symbols, dingbats
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x30FF),  # kana (brand names, mojibake in real reports)
    (0x3100, 0x312F),  # bopomofo
    (0x31C0, 0x31EF),  # CJK strokes
    (0x3200, 0x33FF),  # enclosed CJK, CJK compatibility (㎡)
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE00, 0xFE1F),  # variation selectors (emoji presentation), vertical forms
    (0xFE30, 0xFE6F),  # CJK compatibility forms, small forms
    (0xFF00, 0xFFFF),  # half-width and full-width forms, specials (U+FFFC)
    (0x1F000, 0x1FAFF),  # emoji and pictographs
    (0x20000, 0x3134F),  # CJK extensions B-G
)


def is_chinese_text_char(char: str) -> bool:
    code_point = ord(char)
    return any(low <= code_point <= high for low, high in CHINESE_TEXT_RANGES)


def select_pieces(
    pieces: Sequence[str],
    scores: np.ndarray,
    special_ids: Iterable[int],
    full_tokenizer: Tokenizer,
    corpus: Iterable[str] = (),
    keep_latin_words: bool = True,
) -> np.ndarray:
    """Sorted ids (into ``pieces``) of the pieces to keep.

    ``keep_latin_words=False`` keeps multi-letter ASCII pieces only when the corpus uses them.
    """
    keep = np.zeros(len(pieces), dtype=bool)
    keep[list(special_ids)] = True
    keep[int(np.argmin(scores))] = True
    eligible = _in_chinese_ranges if keep_latin_words else _in_chinese_ranges_no_latin_word
    keep |= np.fromiter((eligible(piece) for piece in pieces), dtype=bool, count=len(pieces))
    for encoding in full_tokenizer.encode_batch(list(corpus), add_special_tokens=False):
        keep[encoding.ids] = True
    keep[_single_char_ids(pieces, keep)] = True
    return np.flatnonzero(keep)


def _in_chinese_ranges(piece: str) -> bool:
    chars = piece.replace(METASPACE, "")
    return all(map(is_chinese_text_char, chars))


def _in_chinese_ranges_no_latin_word(piece: str) -> bool:
    chars = piece.replace(METASPACE, "")
    is_latin_word = len(chars) > 1 and any(char.isascii() and char.isalpha() for char in chars)
    return not is_latin_word and _in_chinese_ranges(piece)


def _single_char_ids(pieces: Sequence[str], keep: np.ndarray) -> list[int]:
    single = {piece: index for index, piece in enumerate(pieces) if len(piece) == 1}
    needed = {char for index in np.flatnonzero(keep) for char in pieces[index]}
    return [single[char] for char in needed if char in single]
