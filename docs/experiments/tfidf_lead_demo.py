"""The lead block on the demo city: fit on the text set's train split, score its validation split (the
test split is never read). Prints leaf and L1 macro-F1 per lead weight; docs/BENCHMARKS.md quotes it.

    python docs/experiments/tfidf_lead_demo.py datasets/demo/features/text.parquet
"""

from __future__ import annotations

import sys

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.metrics import f1_score
from sklearn.svm import LinearSVC

from features.text import lead_sentences, prepare_texts
from models.text_ngrams import CharNgramTfidf


def main(path: str) -> None:
    dataset = pl.read_parquet(path)
    train, valid = (dataset.filter(pl.col("split") == split) for split in ("train", "valid"))
    texts_train, texts_valid = (prepare_texts(frame["text"].to_list()) for frame in (train, valid))
    whole = CharNgramTfidf().fit(texts_train)
    lead = CharNgramTfidf(max_features=None).fit(lead_sentences(texts_train))

    def features(texts: list[str], weight: float) -> sp.csr_matrix:
        blocks = [whole.transform(texts)] + (
            [weight * lead.transform(lead_sentences(texts))] if weight else []
        )
        return sp.hstack(blocks).tocsr()

    def level1(leaf_ids) -> np.ndarray:
        return np.array([leaf_id.split("/")[0] for leaf_id in leaf_ids])

    y_train, y_valid = train["leaf_id"].to_numpy(), valid["leaf_id"].to_numpy()
    for weight in (0.0, 0.3, 0.5):
        svm = LinearSVC(C=0.5, class_weight="balanced", random_state=0)
        predicted = svm.fit(features(texts_train, weight), y_train).predict(features(texts_valid, weight))
        leaf = f1_score(y_valid, predicted, average="macro")
        l1 = f1_score(level1(y_valid), level1(predicted), average="macro")
        print(f"lead x{weight}: leaf macro-F1 {leaf:.4f}, L1 {l1:.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
