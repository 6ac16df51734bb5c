"""The pieces a fine-tuned transformer text classifier is made of, independent of training.

- :func:`load_encoder`: any local ``transformers`` checkpoint directory (the converted e5 encoder, or a
  user's ``bert-base-chinese`` / RBT3) as an encoder module, its fast tokenizer and its config, cut to
  the first ``num_layers`` layers. Only the ``tokenizers`` backend is kept: it is built once and encodes
  a batch in Rust with no per-call Python set-up.
- :func:`make_classifier`: encoder + mean pooling + linear head over the taxonomy leaves.
- :func:`length_sorted_batches` and :func:`pad_batch`: batches of similar length, padded only to the
  longest row of the batch (dynamic padding), so little compute goes to padding.
- :func:`torch_threads`: explicit intra-op thread count for a block. On a shared 2-core machine one
  thread was 3-4x faster than two (OpenMP threads spin-waiting for a busy core), so it is a setting.

torch and transformers are imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``n_threads`` intra-op threads (None: leave torch's setting alone)."""
    import torch

    previous = torch.get_num_threads()
    if n_threads:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if n_threads:
            torch.set_num_threads(previous)


# ---- encoder and tokenizer ----------------------------------------------------------------------
def load_tokenizer(encoder_dir: str | Path):
    """The fast tokenizer of a checkpoint directory as a ``tokenizers.Tokenizer`` (special tokens added
    by its post-processor, no padding, no truncation)."""
    from tokenizers import Tokenizer

    path = Path(encoder_dir) / "tokenizer.json"
    if path.is_file():
        tokenizer = Tokenizer.from_file(str(path))
    else:  # e.g. bert-base-chinese with only vocab.txt: transformers converts it to a fast tokenizer
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir), use_fast=True).backend_tokenizer
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def load_encoder(encoder_dir: str | Path, num_layers: int | None = None):
    """A checkpoint's encoder (no pooler), cut to its first ``num_layers`` transformer layers."""
    from transformers import AutoModel
    from transformers.utils import logging

    logging.disable_progress_bar()
    try:  # BERT-like models: no pooler weights to miss (the classifier mean-pools the tokens)
        encoder = AutoModel.from_pretrained(
            str(encoder_dir), attn_implementation="sdpa", add_pooling_layer=False
        )
    except TypeError:
        encoder = AutoModel.from_pretrained(str(encoder_dir), attn_implementation="sdpa")
    return truncate_layers(drop_pooler(encoder), num_layers)


def encoder_from_config(config: dict[str, Any]):
    """An encoder with random weights from a saved config dict (weights are loaded afterwards)."""
    from transformers import AutoConfig, AutoModel

    settings = dict(config)
    model_type = settings.pop("model_type")
    encoder = AutoModel.from_config(AutoConfig.for_model(model_type, **settings), attn_implementation="sdpa")
    return drop_pooler(encoder)


def drop_pooler(encoder):
    if getattr(encoder, "pooler", None) is not None:  # unused: the classifier mean-pools the tokens
        encoder.pooler = None
    return encoder


def truncate_layers(encoder, num_layers: int | None):
    """Keep at most the first ``num_layers`` layers (BERT / RoBERTa / XLM-R: ``encoder.encoder.layer``)."""
    if num_layers is None:
        return encoder
    if num_layers < 1:
        raise ValueError(f"num_layers must be at least 1, not {num_layers}")
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if layers is None:
        raise ValueError(f"cannot truncate {type(encoder).__name__}: no encoder.layer list")
    if num_layers >= len(layers):
        return encoder
    encoder.encoder.layer = layers[:num_layers]
    encoder.config.num_hidden_layers = num_layers
    return encoder


def pad_token_id(encoder_config, tokenizer) -> int:
    for token in ("<pad>", "[PAD]"):
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return int(token_id)
    return int(getattr(encoder_config, "pad_token_id", None) or 0)


def config_dict(encoder) -> dict[str, Any]:
    """The encoder's config as plain JSON types (what a pickled classifier carries)."""
    return json.loads(encoder.config.to_json_string(use_diff=False))


def make_classifier(encoder, n_classes: int, dropout: float = 0.1):
    """Encoder + mean pooling + linear head (:class:`models.transformer_module.EncoderClassifier`)."""
    from models.transformer_module import EncoderClassifier

    return EncoderClassifier(encoder, n_classes, dropout)


def quantize_int8(module):
    """Dynamic int8 quantisation of the linear layers (weights int8, activations quantised per batch)."""
    import warnings

    import torch

    with warnings.catch_warnings():  # torch.ao eager quantisation is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(module.eval(), {torch.nn.Linear}, dtype=torch.qint8)


# ---- tokens and batches -------------------------------------------------------------------------
def encode(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text, special tokens included, cut to ``max_length`` (the title and the first
    part of the report: the prepared text starts with the title)."""
    ids = [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
    return [row if len(row) <= max_length else row[: max_length - 1] + row[-1:] for row in ids]


def length_sorted_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator | None = None, pool: int = 50
) -> list[np.ndarray]:
    """Row indices grouped into batches of similar length.

    Without ``rng`` (prediction): rows sorted by length, cut into batches. With ``rng`` (training):
    rows shuffled, sorted by length within pools of ``pool`` batches, and the batches shuffled, so
    every epoch sees different batches that are still tightly padded.
    """
    lengths = np.asarray(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    chunk = batch_size * pool
    batches = []
    for start in range(0, len(order), chunk):
        rows = order[start : start + chunk]
        rows = rows[np.argsort(lengths[rows], kind="stable")]
        batches += [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def pad_batch(token_ids: Sequence[Sequence[int]], rows: Sequence[int], pad_id: int):
    """(input_ids, attention_mask) int64 tensors padded to the longest of ``rows``."""
    import torch

    width = max(len(token_ids[row]) for row in rows)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for position, row in enumerate(rows):
        ids = token_ids[row]
        input_ids[position, : len(ids)] = ids
        mask[position, : len(ids)] = 1
    return torch.from_numpy(input_ids), torch.from_numpy(mask)
