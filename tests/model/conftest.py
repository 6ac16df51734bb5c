"""Shared model-test fixtures: a tiny random-init BERT checkpoint (Plan B path of the transformer
classifier) and a small demo city's labelled report texts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


def build_tiny_bert(
    out_dir: Path, corpus: list[str], hidden: int = 32, layers: int = 2, seed: int = 0
) -> Path:
    """A randomly initialised BERT with a character-level WordLevel tokenizer over ``corpus``, saved as a
    standard ``transformers`` directory (config.json, model.safetensors, tokenizer.json)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel

    from features.text import prepare_texts

    chars = sorted({char for text in prepare_texts(corpus) for char in text if not char.isspace()})
    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *chars])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=256,
        pad_token_id=0,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(out_dir))
    return out_dir


@pytest.fixture(scope="session")
def tiny_bert_builder():
    """:func:`build_tiny_bert`, for tests that need a checkpoint over their own texts."""
    return build_tiny_bert


@pytest.fixture(scope="session")
def demo_reports(tmp_path_factory) -> pl.DataFrame:
    """Labelled reports of a small demo city: ``title, text, label`` (leaf id), ``secondary``, ``l1``."""
    from demo_city import generate_demo_city
    from features.taxonomy import load_taxonomy

    city = generate_demo_city(
        tmp_path_factory.mktemp("demo_city"), seed=11, n_grids=80, weeks=52, start=date(2024, 1, 1)
    )
    leaves = pl.DataFrame(load_taxonomy().to_records())
    return (
        pl.read_parquet(city.events_path)
        .filter(pl.col("invalid_reason").is_null())  # invalid reports teach no leaf
        .join(leaves, on=["category_l1", "category_l2", "category_l3"], how="inner")
        .sort("event_id")
        .select(
            "title",
            "text",
            pl.col("leaf_id").alias("label"),
            pl.col("secondary_leaf_id").alias("secondary"),
            pl.col("category_l1").alias("l1"),
            pl.col("risk_group"),
        )
    )
