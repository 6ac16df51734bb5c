"""In-process speed of the TF-IDF model with and without the lead block: both fitted on a benchmark
train CSV, timed on its test CSV in the same process (two rounds), so machine noise hits both alike.

    python docs/experiments/lead_block_speed.py .cache/gridsense/benchmarks/tipdm2020c \
        features/taxonomies/tipdm_flat7.yaml
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from evaluation.text_benchmark import read_text_set
from features.taxonomy import load_taxonomy
from models.text_tfidf import TfidfTextClassifier


def main(split_dir: str, taxonomy_path: str) -> None:
    train, test = (read_text_set(Path(split_dir) / name) for name in ("train.csv", "test.csv"))
    taxonomy = load_taxonomy(taxonomy_path)
    models = {
        weight: TfidfTextClassifier(taxonomy=taxonomy, lead_weight=weight).fit(train.texts, train.labels)
        for weight in (0.0, 0.5)
    }
    for _ in range(2):
        for weight, model in models.items():
            single = []
            for text in test.texts[:300]:
                started = time.perf_counter()
                model.predict_proba([text])
                single.append(time.perf_counter() - started)
            started = time.perf_counter()
            for start in range(0, len(test.texts), 32):
                model.predict_proba(test.texts[start : start + 32])
            rate = len(test.texts) / (time.perf_counter() - started)
            print(
                f"lead {weight}: single p50 {1000 * np.median(single):.2f} ms, batch-32 {rate:,.0f} reports/s"
            )


if __name__ == "__main__":
    main(*sys.argv[1:3])
