"""Character n-gram TF-IDF in numpy: the same features as scikit-learn's ``TfidfVectorizer(analyzer="char")``
without its per-n-gram Python loop.

scikit-learn builds every n-gram as a Python string and looks it up in a dict: on ~400-character reports
that caps the TF-IDF text model at a few hundred reports per second, most of its time. Here a batch is one
array of code points; an n-gram is the integer ``c0 << 42 | c1 << 21 | c2`` (code points fit in 21 bits,
and a shorter n-gram is always a smaller number, so 1-, 2- and 3-grams never collide), and the vocabulary
is a sorted array searched with ``np.searchsorted``. Weights follow scikit-learn's defaults: smooth idf,
optional sublinear tf, L2-normalised rows; ``max_features`` keeps the most frequent n-grams.

:class:`models.text_tfidf.TfidfTextClassifier` uses it by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import polars as pl
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

_BITS = 21  # Unicode code points are below 2**21
MAX_N = 3


def ngram_key(ngram: str) -> int:
    """The key of one n-gram, as :func:`ngram_keys` computes it."""
    key = 0
    for char in ngram:
        key = (key << _BITS) | ord(char)
    return key


def ngram_keys(texts: Sequence[str], ngram_range: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(keys, document index) of every character n-gram of every text (n in ``ngram_range``)."""
    low, high = ngram_range
    if not 1 <= low <= high <= MAX_N:
        raise ValueError(f"ngram_range must lie within (1, {MAX_N}), not {ngram_range}")
    if not texts:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    # Code point 0 separates documents (and cannot occur in prepared text): n-grams containing it are dropped.
    joined = "\0".join(text.replace("\0", "") for text in texts) + "\0"
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter(
        (len(text.replace("\0", "")) + 1 for text in texts), dtype=np.int64, count=len(texts)
    )
    document = np.repeat(np.arange(len(texts)), lengths)
    keys, owners = [], []
    for n in range(low, high + 1):
        width = len(codes) - n + 1
        if width <= 0:
            continue
        key = np.zeros(width, dtype=np.uint64)
        valid = np.ones(width, dtype=bool)
        for offset in range(n):
            window = codes[offset : offset + width]
            key = (key << np.uint64(_BITS)) | window
            valid &= window != 0
        keys.append(key[valid])
        owners.append(document[:width][valid])
    if not keys:  # every text shorter than the shortest n
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(keys), np.concatenate(owners)


class CharNgramTfidf(TransformerMixin, BaseEstimator):
    """TF-IDF over character n-grams of already normalised text (no lower-casing or word padding here)."""

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 3),
        min_df: int | float = 2,
        max_features: int | None = 300_000,
        sublinear_tf: bool = True,
        dtype=np.float32,
    ) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.dtype = dtype

    def fit(self, texts: Iterable[str], y=None) -> CharNgramTfidf:
        texts = list(texts)
        keys, owners = ngram_keys(texts, tuple(self.ngram_range))
        stats = (
            pl.DataFrame({"key": keys, "document": owners})
            .group_by("key")
            .agg(pl.len().alias("total"), pl.col("document").n_unique().alias("df"))
            .filter(pl.col("df") >= self._min_df(len(texts)))
        )
        if self.max_features is not None and stats.height > self.max_features:
            stats = stats.sort(["total", "key"], descending=[True, False]).head(self.max_features)
        stats = stats.sort("key")
        self.vocabulary_keys_ = stats.get_column("key").to_numpy()
        document_frequency = stats.get_column("df").to_numpy()
        self.idf_ = (np.log((1 + len(texts)) / (1 + document_frequency)) + 1).astype(self.dtype)
        self.index_ = pd.Index(self.vocabulary_keys_)
        return self

    @property
    def vocabulary_(self) -> np.ndarray:
        """The n-gram keys (integers, sorted): what ``len(vectorizer.vocabulary_)`` callers need."""
        return self.vocabulary_keys_

    def _min_df(self, n_documents: int) -> int:
        return self.min_df if isinstance(self.min_df, int) else int(np.ceil(self.min_df * n_documents))

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        check_is_fitted(self, "vocabulary_keys_")
        texts = list(texts)
        keys, owners = ngram_keys(texts, tuple(self.ngram_range))
        columns = self.index_.get_indexer(keys)  # hash look-up; -1 for n-grams outside the vocabulary
        known = columns >= 0
        n_columns = len(self.vocabulary_keys_)
        cells, counts = np.unique(owners[known] * n_columns + columns[known], return_counts=True)
        rows, cols = np.divmod(cells, n_columns)
        values = counts.astype(self.dtype)
        if self.sublinear_tf:
            values = np.log(values) + 1
        values *= self.idf_[cols]
        norms = np.sqrt(np.bincount(rows, weights=values.astype(np.float64) ** 2, minlength=len(texts)))
        values /= np.where(norms > 0, norms, 1.0)[rows].astype(self.dtype)
        return sp.csr_matrix((values, (rows, cols)), shape=(len(texts), n_columns), dtype=self.dtype)

    def fit_transform(self, texts: Iterable[str], y=None) -> sp.csr_matrix:
        texts = list(texts)
        return self.fit(texts).transform(texts)
