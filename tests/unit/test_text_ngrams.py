"""The numpy character n-gram TF-IDF reproduces scikit-learn's `analyzer="char"` features."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from models.text_ngrams import CharNgramTfidf, ngram_key, ngram_keys

CORPUS = [
    "楼道里闻到很重的煤气味，请尽快处理",
    "楼上邻居天天半夜吵架",
    "小区门口占道经营，还噪音扰民",
    "路灯坏了",
    "电话<PHONE>，楼道堆物",
    "楼道堆物，消防通道堵塞",
    "😡 噪音 扰民!!",
]


def _key(ngram: str) -> int:
    key = 0
    for char in ngram:
        key = (key << 21) | ord(char)
    return key


@pytest.mark.parametrize("min_df", [1, 2])
def test_same_vocabulary_and_weights_as_scikit_learn(min_df):
    max_features = None
    reference = TfidfVectorizer(
        analyzer="char",
        ngram_range=(1, 3),
        min_df=min_df,
        max_features=max_features,
        sublinear_tf=True,
        lowercase=False,
        dtype=np.float32,
    ).fit(CORPUS)
    ours = CharNgramTfidf(min_df=min_df, max_features=max_features).fit(CORPUS)
    keys = np.array([_key(g) for g in reference.get_feature_names_out()], dtype=np.uint64)
    order = np.argsort(keys)
    np.testing.assert_array_equal(keys[order], ours.vocabulary_keys_)
    queries = CORPUS[:3] + ["完全陌生的句子", ""]
    expected = reference.transform(queries)[:, order].toarray()
    np.testing.assert_allclose(ours.transform(queries).toarray(), expected, atol=1e-6)


def test_ngrams_never_cross_documents():
    keys, owners = ngram_keys(["ab", "c"], (2, 2))
    assert keys.tolist() == [_key("ab")] and owners.tolist() == [0]
    assert len(ngram_keys([], (1, 3))[0]) == 0


def test_texts_shorter_than_every_n_have_no_ngrams_and_one_key_is_computed_alike():
    keys, owners = ngram_keys(["", "a"], (2, 3))
    assert keys.dtype == np.uint64 and len(keys) == len(owners) == 0
    assert ngram_key("ab") == _key("ab") == ngram_keys(["ab"], (2, 2))[0][0]


def test_max_features_keeps_the_most_frequent_ngrams():
    everything = CharNgramTfidf(min_df=1, max_features=None).fit(CORPUS)
    kept = CharNgramTfidf(min_df=1, max_features=25).fit(CORPUS)
    keys, _ = ngram_keys(CORPUS, (1, 3))
    totals = dict(zip(*np.unique(keys, return_counts=True), strict=True))
    dropped = set(everything.vocabulary_keys_.tolist()) - set(kept.vocabulary_keys_.tolist())
    assert len(kept.vocabulary_keys_) == 25
    assert min(totals[k] for k in kept.vocabulary_keys_.tolist()) >= max(totals[k] for k in dropped)
