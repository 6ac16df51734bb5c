"""Reports -> the per-report quantities drift is measured on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.text import prepare_texts
from models.text_ngrams import ngram_keys

UNSEEN_NGRAM_RANGE = (2, 3)  # single characters are almost never new; new words show in 2- and 3-grams
_SCORE_BATCH = 512


@dataclass(frozen=True)
class ScoredReports:
    """One entry per report, in traffic order. `corrected` is None without feedback, else True where a
    person changed the predicted category, False where they confirmed it, and None-like NaN where the
    report got no feedback (a float array: 1.0, 0.0, nan)."""

    category_l1: np.ndarray  # str
    leaf_id: np.ndarray  # str
    confidence: np.ndarray  # float, the leaf probability
    needs_review: np.ndarray  # bool
    length: np.ndarray  # characters of the model input (nan: not measured, the API measures a sample)
    unseen_share: np.ndarray  # in [0, 1]; nan: not measured, or the model has no n-gram vocabulary
    corrected: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.leaf_id)

    def slice(self, start: int, stop: int) -> ScoredReports:
        def cut(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[start:stop]

        return ScoredReports(*(cut(getattr(self, name)) for name in self.__dataclass_fields__))


def training_vocabulary(classifier: object) -> pd.Index | None:
    """The character n-gram keys the text model learned (`models.text_ngrams` keys) as a hashed index, from
    a TF-IDF classifier or the fast model of a cascade; None for a model without such a vocabulary."""
    model = getattr(classifier, "fast", classifier)
    pipeline = getattr(model, "pipeline_", None)
    features = pipeline.named_steps.get("tfidf") if pipeline is not None else None
    if features is not None and hasattr(features, "transformer_list"):
        features = dict(features.transformer_list).get("text")
    keys = getattr(features, "vocabulary_keys_", None)
    return None if keys is None else pd.Index(np.unique(np.asarray(keys, dtype=np.uint64)))


class VocabularyCache:
    """The training vocabulary of the classifier last asked about, built again only when a hot swap
    brings another one (holding the classifier itself: an `id` could be reused by the next model)."""

    def __init__(self) -> None:
        self._entry: tuple[object, pd.Index | None] | None = None

    def of(self, classifier: object) -> pd.Index | None:
        entry = self._entry
        if entry is None or entry[0] is not classifier:
            entry = (classifier, training_vocabulary(classifier))
            self._entry = entry
        return entry[1]


def unseen_ngram_share(prepared: Sequence[str], vocabulary: pd.Index | None) -> np.ndarray:
    """Per text, the share of its character 2- and 3-gram occurrences that are not in `vocabulary`."""
    if vocabulary is None:
        return np.full(len(prepared), np.nan)
    keys, owners = ngram_keys(list(prepared), UNSEEN_NGRAM_RANGE)
    unseen = vocabulary.get_indexer(keys) < 0  # a hash look-up, as the model's own vectorizer does
    total = np.bincount(owners, minlength=len(prepared))
    missing = np.bincount(owners, weights=unseen, minlength=len(prepared))
    return np.divide(missing, total, out=np.zeros(len(prepared)), where=total > 0)


def score_reports(
    classifier: object,
    texts: Sequence[str | None],
    titles: Sequence[str | None] | None = None,
    corrected: np.ndarray | None = None,
) -> ScoredReports:
    """Classify reports with a text model (`describe`) and measure each one."""
    prepared = prepare_texts(list(texts), None if titles is None else list(titles))
    predictions = []
    for start in range(0, len(prepared), _SCORE_BATCH):
        predictions.extend(classifier.describe(prepared[start : start + _SCORE_BATCH]))
    return ScoredReports(
        category_l1=np.array([p.category_l1 for p in predictions], dtype=object),
        leaf_id=np.array([p.leaf_id for p in predictions], dtype=object),
        confidence=np.array([p.p_l3 for p in predictions], dtype=float),
        needs_review=np.array([p.needs_review for p in predictions], dtype=bool),
        length=np.array([len(text) for text in prepared], dtype=int),
        unseen_share=unseen_ngram_share(prepared, training_vocabulary(classifier)),
        corrected=corrected,
    )


def top_unseen_ngrams(
    prepared: Sequence[str], vocabulary: np.ndarray | None, top: int = 20
) -> list[tuple[str, int]]:
    """The 2-/3-grams outside the vocabulary that most reports of `prepared` contain, with that count."""
    if vocabulary is None or not prepared:
        return []
    keys, owners = ngram_keys(list(prepared), UNSEEN_NGRAM_RANGE)
    if len(vocabulary):
        position = np.minimum(np.searchsorted(vocabulary, keys), len(vocabulary) - 1)
        keys, owners = keys[vocabulary[position] != keys], owners[vocabulary[position] != keys]
    pairs = np.unique(np.stack([keys, owners.astype(np.uint64)]), axis=1)  # one count per report
    unique, counts = np.unique(pairs[0], return_counts=True)
    order = np.argsort(-counts, kind="stable")[:top]
    return [(decode_ngram(int(unique[i])), int(counts[i])) for i in order]


def decode_ngram(key: int) -> str:
    """The characters of an n-gram key (`models.text_ngrams`: 21 bits per code point, first one highest)."""
    characters = []
    while key:
        characters.append(chr(key & ((1 << 21) - 1)))
        key >>= 21
    return "".join(reversed(characters))
