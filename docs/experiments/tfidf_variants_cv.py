"""TF-IDF feature variants by 3-fold cross-validation on a benchmark *training* split (the test split is
never read). Prints macro-F1 mean ± sd over the folds per variant; docs/BENCHMARKS.md quotes the tipdm run.

    python docs/experiments/tfidf_variants_cv.py .cache/gridsense/benchmarks/tipdm2020c/train.csv
    python docs/experiments/tfidf_variants_cv.py TRAIN.csv --jieba     # also word n-grams (pip install jieba)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from evaluation.text_benchmark import read_text_set
from features.text import lead_sentences, prepare_texts
from models.text_ngrams import CharNgramTfidf


def _variants(jieba: bool) -> dict[str, dict]:
    lead = {"fn": lead_sentences, "weight": 0.5}
    variants = {
        "whole text (C=0.5, 300k n-grams)": {"blocks": []},
        "C=1.0": {"blocks": [], "C": 1.0},
        "C=0.25": {"blocks": [], "C": 0.25},
        "no max_features cap": {"blocks": [], "max_features": None},
        "+ lead block x0.3": {"blocks": [{**lead, "weight": 0.3}]},
        "+ lead block x0.5 (the default)": {"blocks": [lead]},
        "+ lead block x0.7": {"blocks": [{**lead, "weight": 0.7}]},
        "+ lead x0.5, C=1.0": {"blocks": [lead], "C": 1.0},
        "+ lead x0.5 cut at 32 characters": {
            "blocks": [{"fn": lambda t: lead_sentences(t, 32), "weight": 0.5}]
        },
        "+ lead x0.5 + last 64 characters x0.3": {
            "blocks": [lead, {"fn": lambda texts: [t[-64:] for t in texts], "weight": 0.3}]
        },
    }
    if jieba:
        variants["+ lead x0.5 + jieba words 1-2 x0.5"] = {"blocks": [lead], "words": 0.5}
    return variants


def _features(fit_texts, texts, variant, segment):
    vectorizer = CharNgramTfidf(max_features=variant.get("max_features", 300_000)).fit(fit_texts)
    blocks = [vectorizer.transform(texts)]
    for block in variant["blocks"]:
        part = CharNgramTfidf(max_features=None).fit(block["fn"](fit_texts))
        blocks.append(block["weight"] * part.transform(block["fn"](texts)))
    if variant.get("words"):
        from sklearn.feature_extraction.text import TfidfVectorizer

        words = TfidfVectorizer(token_pattern=r"(?u)\S+", ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        words.fit(segment(fit_texts))
        blocks.append(variant["words"] * words.transform(segment(texts)))
    return sp.hstack(blocks).tocsr()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train_csv")
    parser.add_argument("--jieba", action="store_true")
    args = parser.parse_args()
    train = read_text_set(Path(args.train_csv))  # title。text as the benchmark and serving join them
    texts, labels = prepare_texts(train.texts), np.asarray(train.labels)
    segment = None
    if args.jieba:
        import jieba

        segment = lambda docs: [" ".join(jieba.lcut(doc)) for doc in docs]  # noqa: E731
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(texts, labels))
    for name, variant in _variants(args.jieba).items():
        scores = []
        for train_rows, test_rows in folds:
            fit_texts = [texts[i] for i in train_rows]
            x_train = _features(fit_texts, fit_texts, variant, segment)
            x_test = _features(fit_texts, [texts[i] for i in test_rows], variant, segment)
            svm = LinearSVC(C=variant.get("C", 0.5), class_weight="balanced", random_state=0)
            svm.fit(x_train, labels[train_rows])
            scores.append(f1_score(labels[test_rows], svm.predict(x_test), average="macro"))
        print(f"{name:42s} macro-F1 {np.mean(scores):.4f} ± {np.std(scores):.4f}", flush=True)


if __name__ == "__main__":
    main()
