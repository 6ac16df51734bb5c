"""The torch module of the transformer text classifier (imported only when a model is built)."""

from __future__ import annotations

import torch


class EncoderClassifier(torch.nn.Module):
    """Encoder -> mean of the token states over the attention mask -> dropout -> linear leaf logits.

    Mean pooling is how e5 was trained to summarise a text, so the head starts from a useful summary.
    """

    def __init__(self, encoder: torch.nn.Module, n_classes: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(encoder.config.hidden_size, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return self.head(self.dropout(pooled))

    def freeze_word_embeddings(self) -> None:
        """The (large) token embedding table stays as pretrained: fewer gradients, and pieces unseen in
        training keep their pretrained meaning."""
        self.encoder.get_input_embeddings().weight.requires_grad_(False)
