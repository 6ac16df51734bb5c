"""Build a SentencePiece ``precompiled_charsmap`` from a plain string -> string rewrite table.

``tokenizers.normalizers.Precompiled`` reads the binary SentencePiece format:
``u32 trie_bytes | u32 trie units ... | replacement strings, each ending in NUL``. The trie is a
darts-clone double array over the UTF-8 bytes of the keys: a node at slot ``p`` with children base
``b`` stores ``offset = p ^ b``; the child for byte ``c`` sits at ``b ^ c`` and carries ``c`` as
its label; a key ending at a node is flagged by bit 8, and its value (the replacement's offset in
the string blob, with bit 31 set) sits at ``b ^ 0``. Bases are unique, so a byte that is not a
child can never land on a unit carrying that byte as label.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

HAS_LEAF = 1 << 8
IS_LEAF_VALUE = 1 << 31
OFFSET_SHIFT = 10
MAX_PLAIN_OFFSET = 1 << 21
ROOT_SLOT = 0


@dataclass
class _TrieNode:
    children: dict[int, _TrieNode] = field(default_factory=dict)
    value: int | None = None


def build_precompiled_charsmap(table: Mapping[str, str]) -> bytes:
    """Serialise ``table`` (non-empty keys) so that ``Precompiled`` rewrites each key to its value."""
    blob, value_offsets = _string_blob(table.values())
    root = _byte_trie({key: value_offsets[value] for key, value in table.items()})
    units = _DoubleArray().build(root)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + blob


def _string_blob(values) -> tuple[bytes, dict[str, int]]:
    offsets: dict[str, int] = {}
    parts: list[bytes] = []
    size = 0
    for value in sorted(set(values)):
        encoded = value.encode("utf-8") + b"\0"
        offsets[value] = size
        parts.append(encoded)
        size += len(encoded)
    return b"".join(parts), offsets


def _byte_trie(values: Mapping[str, int]) -> _TrieNode:
    root = _TrieNode()
    for key, value in values.items():
        if not key:
            raise ValueError("charsmap keys must be non-empty")
        node = root
        for byte in key.encode("utf-8"):
            node = node.children.setdefault(byte, _TrieNode())
        node.value = value
    return root


class _DoubleArray:
    """First-fit placement of every node's children block (unique bases, XOR addressing)."""

    def __init__(self) -> None:
        self.units: list[int] = [0]
        self.used: bytearray = bytearray(b"\1")  # the root slot is never a child slot
        self.bases: set[int] = set()
        self.first_free = 1

    def build(self, root: _TrieNode) -> list[int]:
        pending = [(root, ROOT_SLOT)]
        while pending:
            node, slot = pending.pop()
            labels = ([0] if node.value is not None else []) + sorted(node.children)
            base = self._find_base(labels)
            self._claim(base, labels)
            offset = slot ^ base
            if offset >= MAX_PLAIN_OFFSET:
                raise ValueError("charsmap too large for plain darts offsets")
            self.units[slot] |= offset << OFFSET_SHIFT | (HAS_LEAF if node.value is not None else 0)
            if node.value is not None:
                self.units[base] = node.value | IS_LEAF_VALUE
            for label, child in node.children.items():
                self.units[base ^ label] = label
                pending.append((child, base ^ label))
        return self.units

    def _find_base(self, labels: list[int]) -> int:
        first = labels[0]
        slot = self.first_free
        while True:
            self._grow(slot + 256)
            slot = self.used.find(0, slot)
            base = slot ^ first
            if base not in self.bases and all(not self._is_used(base ^ c) for c in labels):
                return base
            slot += 1

    def _claim(self, base: int, labels: list[int]) -> None:
        self.bases.add(base)
        self._grow((base | 0xFF) + 1)
        for label in labels:
            self.used[base ^ label] = 1
        while self.first_free < len(self.used) and self.used[self.first_free]:
            self.first_free += 1

    def _is_used(self, slot: int) -> bool:
        return slot < len(self.used) and bool(self.used[slot])

    def _grow(self, size: int) -> None:
        if size > len(self.used):
            extra = size - len(self.used)
            self.used.extend(bytes(extra))
            self.units.extend([0] * extra)
