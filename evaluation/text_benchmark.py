"""`gridsense benchmark text`: text classifiers on a labelled train/test pair, in one process.

    gridsense benchmark text --train TRAIN.csv --test TEST.csv [--model tfidf|transformer|cascade|all]
                             [--taxonomy FILE] --out report.json

The CSVs have the columns ``id, title, text, label`` (label = taxonomy leaf id; ``gridsense benchmark
text-split`` writes such a pair). For every model asked for it prints and writes: macro-F1, accuracy and
per-class F1 on the test file; calibration (ECE) and the accuracy/coverage curve of the review
threshold; training wall time; in-process throughput at batch 32; single-report p50/p99 latency (also
with ``describe`` + ``evidence``, what `/v1/classify?evidence=true` runs); peak
memory (the process's resident-set high-water mark, reset before each model). The cascade reuses the
TF-IDF and transformer models trained in the same run and adds its routing table (share of reports
reaching the transformer, accuracy of each path). Timings are wall-clock on this machine: say whether it
was shared when you quote them.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from core.errors import GridSenseUserError
from evaluation.text_splits import BENCHMARK_COLUMNS
from features.text import title_text_expr

MODELS = ("tfidf", "transformer", "cascade")
THROUGHPUT_BATCH = 32
REVIEW_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass
class TextSet:
    ids: list[str]
    texts: list[str]  # title。text, as the served model receives it (the models prepare it again)
    labels: np.ndarray


@dataclass
class ModelReport:
    name: str
    params: dict[str, Any]
    train_seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)
    speed: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


# ---- data -------------------------------------------------------------------------------------------
def read_text_set(path: Path) -> TextSet:
    from features.files import read_csv_text, require_columns

    frame = read_csv_text(path, "benchmark CSV")  # a bad file is a one-line user error in the CLI
    require_columns(frame, BENCHMARK_COLUMNS, f"benchmark CSV {path}")
    # as serving joins them (serving.text_service.model_input): an empty title is left out, not "。text"
    joined = title_text_expr(pl.col("title").str.strip_chars(), pl.col("text").str.strip_chars()).fill_null(
        ""
    )
    frame = frame.filter(pl.col("label").is_not_null()).with_columns(joined.alias("report"))
    return TextSet(frame["id"].to_list(), frame["report"].to_list(), frame["label"].to_numpy().astype(object))


# ---- measurements -----------------------------------------------------------------------------------
def reset_peak_memory() -> None:
    """Reset the kernel's resident-set high-water mark (Linux; ignored elsewhere)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory_mb() -> dict[str, float]:
    fields = _proc_status()
    if "VmHWM" in fields:
        return {"peak_rss_mb": fields["VmHWM"] / 1024, "rss_mb": fields.get("VmRSS", 0) / 1024}
    import resource

    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _proc_status() -> dict[str, float]:
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    return {
        k: float(v.split()[0])
        for k, _, v in (line.partition(":") for line in lines)
        if k in ("VmHWM", "VmRSS")
    }


def throughput(
    predict: Callable[[list[str]], Any], texts: list[str], max_seconds: float = 60.0
) -> dict[str, float]:
    """Reports per second at batch 32 over ``texts`` (stops after ``max_seconds``); one warm-up batch."""
    predict(texts[:THROUGHPUT_BATCH])
    done, started = 0, time.perf_counter()
    for start in range(0, len(texts), THROUGHPUT_BATCH):
        predict(texts[start : start + THROUGHPUT_BATCH])
        done += len(texts[start : start + THROUGHPUT_BATCH])
        if time.perf_counter() - started > max_seconds:
            break
    seconds = time.perf_counter() - started
    return {"throughput_batch32_rps": done / seconds, "throughput_reports": done}


def latency(
    predict: Callable[[list[str]], Any], texts: list[str], max_reports: int = 300, max_seconds: float = 30.0
) -> dict[str, float]:
    """Single-report latency percentiles (ms) over up to ``max_reports`` reports, spread over the set."""
    predict(texts[:1])
    step = max(1, len(texts) // max_reports)
    times, started = [], time.perf_counter()
    for text in texts[::step][:max_reports]:
        began = time.perf_counter()
        predict([text])
        times.append(1000 * (time.perf_counter() - began))
        if time.perf_counter() - started > max_seconds:
            break
    values = np.asarray(times)
    return {
        "latency_p50_ms": float(np.percentile(values, 50)),
        "latency_p99_ms": float(np.percentile(values, 99)),
        "latency_reports": len(values),
    }


def quality(probs: np.ndarray, classes: np.ndarray, labels: np.ndarray, taxonomy) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    from models.scoring import accuracy, expected_calibration_error, text_metrics

    predicted = classes[probs.argmax(axis=1)]
    confidence = probs.max(axis=1)
    correct = (predicted == labels).astype(int)
    present = sorted(set(labels))
    per_class = f1_score(labels, predicted, labels=present, average=None, zero_division=0)
    metrics: dict[str, Any] = {
        "macro_f1": macro_f1(labels, predicted),
        "accuracy": accuracy(labels, predicted),
        "per_class_f1": {str(leaf): float(f) for leaf, f in zip(present, per_class, strict=True)},
        "ece": expected_calibration_error(confidence, correct),
        "review_curve": [
            {
                "threshold": t,
                "coverage": float((confidence >= t).mean()),
                "accuracy_answered": float(correct[confidence >= t].mean())
                if (confidence >= t).any()
                else None,
            }
            for t in REVIEW_THRESHOLDS
        ],
    }
    if taxonomy.depth > 1:
        metrics["levels"] = text_metrics(labels, predicted, taxonomy)
    return metrics


def macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Over the classes of the test set (a class predicted but absent from the test set does not count)."""
    from sklearn.metrics import f1_score

    return float(f1_score(labels, predicted, labels=sorted(set(labels)), average="macro", zero_division=0))


# ---- models -----------------------------------------------------------------------------------------
@dataclass
class TransformerOptions:
    schedule: str = "full"
    layers: int | None = None
    max_length: int | None = None
    epochs: float | None = None
    quantize: bool = False
    threads: int = 1
    max_train_minutes: float | None = None
    load: Path | None = None
    cascade_threshold: float = 0.8
    blend: float = 0.5
    encoder_dir: Path | None = None
    runtime: str = "torch"
    tfidf: str = "numpy"
    lead_weight: float = 0.5

    def params(self) -> dict[str, Any]:
        from training.train_transformer import schedule_params

        params = schedule_params(self.schedule)
        overrides = {
            "num_layers": self.layers,
            "max_length": self.max_length,
            "epochs": self.epochs,
            "max_train_minutes": self.max_train_minutes,
        }
        params |= {k: v for k, v in overrides.items() if v is not None}
        if self.encoder_dir is not None:
            params["encoder_dir"] = self.encoder_dir
        # the ONNX runtime quantises the exported fp32 graph itself
        quantize = self.quantize and self.runtime == "torch"
        return params | {"quantize": quantize, "num_threads": self.threads}


def fit_tfidf(train: TextSet, taxonomy, vectorizer: str = "numpy", lead_weight: float = 0.5):
    """The TF-IDF model with the numpy character n-gram vectoriser (``models.text_ngrams``, the default)
    or scikit-learn's ``char_wb`` one (same kind of features, several times slower), and the lead
    sentence's block at ``lead_weight`` (0: none)."""
    from models.text_tfidf import TfidfTextClassifier

    model = TfidfTextClassifier(taxonomy=taxonomy, vectorizer=vectorizer, lead_weight=lead_weight)
    started = time.perf_counter()
    model.fit(train.texts, train.labels)
    return (
        model,
        time.perf_counter() - started,
        {k: v for k, v in model.get_params().items() if k != "taxonomy"},
    )


def fit_transformer(train: TextSet, taxonomy, options: TransformerOptions):
    """(model, training seconds, params): trained here, or loaded (``--transformer-model``; its recorded
    fine-tuning time is reported), then put on the requested runtime."""
    if options.load is not None:
        from models.persistence import load_estimator

        model = load_estimator(options.load)
        model.num_threads = options.threads
        seconds = float(model.training_.get("seconds", float("nan")))
        params = {"loaded_from": str(options.load), **_public_params(model)}
    else:
        from models.text_transformer import TransformerTextClassifier

        model = TransformerTextClassifier(taxonomy=taxonomy, **options.params())
        started = time.perf_counter()
        model.fit(train.texts, train.labels)
        seconds, params = time.perf_counter() - started, _public_params(model)
    return _on_runtime(model, options), seconds, params | {"runtime": options.runtime}


def _on_runtime(model, options: TransformerOptions):
    """torch (int8 linear layers with ``--quantize``) or ONNX Runtime (int8 weights with ``--quantize``)."""
    if options.runtime == "onnx":
        from models.text_onnx import OnnxTextClassifier

        if model.quantize:
            raise GridSenseUserError(
                "--runtime onnx needs an fp32 transformer", "train it without --quantize"
            )
        return OnnxTextClassifier.from_transformer(
            model, quantize=options.quantize, num_threads=options.threads
        )
    if options.quantize and not model.quantize:
        from models.transformer_encoder import quantize_int8

        model.module_, model.quantize = quantize_int8(model.module_), True
    return model


def _public_params(model) -> dict[str, Any]:
    skip = {"taxonomy", "progress"}
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in model.get_params().items() if k not in skip}


def evaluate(name: str, model, params: dict, train_seconds: float, test: TextSet, taxonomy) -> ModelReport:
    probs = np.asarray(model.predict_proba(test.texts))
    report = ModelReport(name, params, train_seconds)
    report.metrics = quality(probs, np.asarray(model.classes_, dtype=object), test.labels, taxonomy)
    report.speed = throughput(model.predict_proba, test.texts) | latency(model.predict_proba, test.texts)
    with_evidence = latency(lambda texts: (model.describe(texts), model.evidence(texts)), test.texts, 100)
    report.speed |= {f"evidence_{key}": value for key, value in with_evidence.items()}
    for key in ("training_", "calibration_"):
        if hasattr(model, key):
            report.extra[key.rstrip("_")] = getattr(model, key)
    return report


def cascade_report(
    tfidf, transformer, options: TransformerOptions, test: TextSet, taxonomy, train_seconds: float
):
    from models.text_cascade import CascadeTextClassifier, routing_table

    cascade = CascadeTextClassifier.from_fitted(
        tfidf, transformer, confidence_threshold=options.cascade_threshold, blend=options.blend
    )
    report = evaluate(
        "cascade",
        cascade,
        {"confidence_threshold": options.cascade_threshold, "blend": options.blend},
        train_seconds,
        test,
        taxonomy,
    )
    routed = cascade.route(test.texts)
    classes = cascade.classes_
    correct = classes[routed.probabilities.argmax(axis=1)] == test.labels
    report.extra["routing"] = {
        "share_to_transformer": float(routed.to_strong.mean()),
        "accuracy_tfidf_path": float(correct[~routed.to_strong].mean())
        if (~routed.to_strong).any()
        else None,
        "accuracy_transformer_path": float(correct[routed.to_strong].mean())
        if routed.to_strong.any()
        else None,
    }
    fast = np.asarray(tfidf.predict_proba(test.texts))
    strong = np.asarray(transformer.predict_proba(test.texts))[:, cascade.strong_columns_]
    y = np.searchsorted(classes.astype(str), test.labels.astype(str))
    report.extra["routing_table"] = {
        f"blend_{blend}": routing_table(fast, strong, y, blend=blend) for blend in (0.0, 0.3, 0.5)
    }
    return report


def run_benchmark(
    train: TextSet,
    test: TextSet,
    taxonomy,
    models: list[str],
    options: TransformerOptions,
    echo: Callable[[str], None] = print,
) -> list[ModelReport]:
    reports: list[ModelReport] = []
    fitted: dict[str, tuple[Any, float]] = {}
    needed = set(models) | ({"tfidf", "transformer"} if "cascade" in models else set())
    for name in ("tfidf", "transformer"):
        if name not in needed:
            continue
        reset_peak_memory()
        echo(f"{name}: training on {len(train.texts):,} reports ...")
        model, seconds, params = (
            fit_tfidf(train, taxonomy, options.tfidf, options.lead_weight)
            if name == "tfidf"
            else fit_transformer(train, taxonomy, options)
        )
        fitted[name] = (model, seconds)
        if name in models:
            report = evaluate(name, model, params, seconds, test, taxonomy)
            report.memory = peak_memory_mb()
            reports.append(report)
            echo(summary_line(report))
    if "cascade" in models:
        reset_peak_memory()
        seconds = fitted["tfidf"][1] + fitted["transformer"][1]
        report = cascade_report(
            fitted["tfidf"][0], fitted["transformer"][0], options, test, taxonomy, seconds
        )
        report.memory = peak_memory_mb()
        reports.append(report)
        echo(summary_line(report))
    return reports


def summary_line(report: ModelReport) -> str:
    m, s = report.metrics, report.speed
    return (
        f"  {report.name}: macro-F1 {m['macro_f1']:.4f}, accuracy {m['accuracy']:.4f}, ECE {m['ece']:.3f}; "
        f"train {report.train_seconds:.0f}s; {s['throughput_batch32_rps']:.0f} reports/s at batch 32; "
        f"single p50 {s['latency_p50_ms']:.1f} ms, p99 {s['latency_p99_ms']:.1f} ms "
        f"(with evidence {s['evidence_latency_p50_ms']:.1f} / {s['evidence_latency_p99_ms']:.1f} ms); "
        f"peak RSS {report.memory.get('peak_rss_mb', float('nan')):.0f} MB"
    )


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average_1m": round(load[0], 2)}


def report_json(report: ModelReport) -> dict[str, Any]:
    return {
        "params": report.params,
        "train_seconds": report.train_seconds,
        **report.metrics,
        **report.speed,
        **report.memory,
        **report.extra,
    }


def json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
