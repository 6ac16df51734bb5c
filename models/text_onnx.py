"""A fine-tuned transformer classifier served through ONNX Runtime, optionally with dynamic int8 weights.

``OnnxTextClassifier.from_transformer(model, quantize=True)`` exports the fitted
:class:`models.text_transformer.TransformerTextClassifier`'s torch module (fp32) to ONNX with dynamic
batch and sequence axes, quantises its weights to int8 (``onnxruntime.quantization.quantize_dynamic``)
and keeps the model's tokenizer, temperature, classes and taxonomy, so it has the same interface
(``predict_proba``, ``describe``, ``labels``) and pickles standalone (the ONNX graph travels as bytes).

Needs the optional packages ``onnxruntime`` and ``onnx`` (export only); imported on use.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from features.text import prepare_texts
from models.text_prediction import LeafProbabilityOutputs
from models.transformer_encoder import encode, length_sorted_batches, pad_batch
from models.transformer_training import softmax

INPUT_NAMES = ("input_ids", "attention_mask")


class OnnxTextClassifier(LeafProbabilityOutputs):
    """Inference-only twin of a fitted transformer classifier (not trainable: build it from one)."""

    def __init__(self, onnx_model: bytes, source, quantized: bool, num_threads: int | None = 1) -> None:
        self.onnx_model = onnx_model
        self.quantized = quantized
        self.num_threads = num_threads
        self.classes_ = source.classes_
        self.taxonomy_ = source.taxonomy_
        self.tokenizer_ = source.tokenizer_
        self.pad_id_ = source.pad_id_
        self.temperature_ = source.temperature_
        self.max_length = source.max_length
        self.predict_batch_size = source.predict_batch_size
        self.review_threshold = source.review_threshold
        self.label_threshold = source.label_threshold
        self.session_ = _session(onnx_model, num_threads)

    @classmethod
    def from_transformer(
        cls, model, quantize: bool = True, num_threads: int | None = 1
    ) -> OnnxTextClassifier:
        if getattr(model, "quantize", False):
            raise ValueError("export the fp32 model (quantize=False); ONNX Runtime quantises it itself")
        graph = export_onnx(model.module_, len(model.classes_))
        if quantize:
            graph = quantize_onnx(graph)
        return cls(graph, model, quantize, num_threads)

    # ---- prediction -------------------------------------------------------------------------------------
    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        prepared = prepare_texts(["" if t is None else str(t) for t in texts])
        token_ids = encode(self.tokenizer_, prepared, self.max_length)
        logits = np.zeros((len(token_ids), len(self.classes_)), dtype=np.float32)
        for rows in length_sorted_batches([len(ids) for ids in token_ids], self.predict_batch_size):
            input_ids, mask = pad_batch(token_ids, rows, self.pad_id_)
            feeds = {"input_ids": input_ids.numpy(), "attention_mask": mask.numpy()}
            logits[rows] = self.session_.run(["logits"], feeds)[0]
        return softmax(logits, self.temperature_)

    # ---- persistence --------------------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("session_")
        state["tokenizer_"] = self.tokenizer_.to_str()
        return state

    def __setstate__(self, state: dict) -> None:
        from tokenizers import Tokenizer

        state = dict(state)
        state["tokenizer_"] = Tokenizer.from_str(state["tokenizer_"])
        self.__dict__.update(state)
        self.session_ = _session(self.onnx_model, self.num_threads)


def export_onnx(module, n_classes: int) -> bytes:
    """The torch classifier as an ONNX graph (opset 17) with dynamic batch and sequence axes."""
    import torch

    module = module.eval()
    example = (torch.ones((2, 8), dtype=torch.int64), torch.ones((2, 8), dtype=torch.int64))
    buffer = io.BytesIO()
    axes = {
        "input_ids": {0: "batch", 1: "tokens"},
        "attention_mask": {0: "batch", 1: "tokens"},
        "logits": {0: "batch"},
    }
    with torch.inference_mode():
        torch.onnx.export(
            module,
            example,
            buffer,
            input_names=list(INPUT_NAMES),
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return buffer.getvalue()


def quantize_onnx(graph: bytes) -> bytes:
    """Dynamic int8 quantisation of the graph's MatMul/Gemm weights (activations quantised at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(graph)
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"]
        )
        return target.read_bytes()


def _session(graph: bytes, num_threads: int | None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(graph, sess_options=options, providers=["CPUExecutionProvider"])
