"""The transformer/cascade training run: MLflow metrics, pyfunc with signature, a new registry version."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import polars as pl
import pytest

from core.registry import TEXT_MODEL_NAME
from features.taxonomy import load_taxonomy
from training.tracking import use_local_store

pytestmark = pytest.mark.slow  # loads models or MLflow: `make test-fast` skips it

pytest.importorskip("torch")

LEAVES = {
    "城市管理/市容秩序/占道经营": [
        "小区门口有人占道摆摊卖水果",
        "路边流动摊贩堵住人行道",
        "早市摊位占了半条马路",
    ],
    "城市管理/噪音扰民/社会生活噪音": [
        "楼上半夜装修电钻声很大",
        "广场舞音响声音太吵",
        "酒吧音乐声吵得睡不着",
    ],
    "安全隐患/消防安全/消防通道堵塞": [
        "楼道里堆满杂物堵住消防通道",
        "消防车通道被私家车占用",
        "安全出口被纸箱堵死",
    ],
}


def _dataset() -> pl.DataFrame:
    rows, start = [], datetime(2025, 1, 1)
    for repeat in range(8):
        for leaf, texts in LEAVES.items():
            for text in texts:
                rows.append(
                    {
                        "event_id": f"e{len(rows)}",
                        "text": f"{text}，第{repeat}次反映",
                        "leaf_id": leaf,
                        "reported_at": start + timedelta(hours=len(rows)),
                        "split": "test" if repeat == 7 else "train",
                    }
                )
    return pl.DataFrame(rows)


def test_cascade_run_logs_metrics_and_registers_a_pyfunc(tmp_path, tiny_bert_builder):
    import mlflow
    from mlflow import MlflowClient

    from training.train_transformer import train_transformer_model

    dataset = _dataset()
    data_path = tmp_path / "text.parquet"
    dataset.write_parquet(data_path)
    encoder = tiny_bert_builder(tmp_path / "tiny", dataset["text"].to_list())
    use_local_store(tmp_path, "gridsense-text")

    result = train_transformer_model(
        dataset,
        load_taxonomy(),
        data_path,
        tmp_path,
        alias="challenger",
        schedule="demo",
        params={"encoder_dir": encoder, "epochs": 2, "max_train_minutes": 1.0, "calibration_share": 0.15},
    )

    assert result.model_version == "1"
    run = MlflowClient().get_run(result.run_id)
    for key in (
        "test.macro_f1_leaf",
        "tfidf.macro_f1_leaf",
        "transformer.macro_f1_leaf",
        "cascade.macro_f1_leaf",
        "cascade.share_to_transformer",
        "transformer.calibration_temperature",
        "transformer.steps",
    ):
        assert key in run.data.metrics, key
    assert run.data.params["transformer.max_length"] == "48"  # the demo schedule
    model = mlflow.pyfunc.load_model(f"models:/{TEXT_MODEL_NAME}@challenger")
    assert model.metadata.signature is not None
    output = model.predict(pd.DataFrame({"text": ["楼道里堆满杂物堵住消防通道", "广场舞音响声音太吵"]}))
    assert list(output["leaf_id"]) == ["安全隐患/消防安全/消防通道堵塞", "城市管理/噪音扰民/社会生活噪音"]
    classifier = model.unwrap_python_model().classifier
    assert type(classifier).__name__ == "CascadeTextClassifier"
    sample = model.unwrap_python_model().validation_sample  # what serving checks before a swap
    assert sample is not None and sample.kind == "text" and sample.rows.height > 0
    assert run.data.metrics["validation_sample.accuracy_leaf"] == sample.recorded["accuracy_leaf"]


def test_the_cascade_can_reuse_the_registered_tfidf_model(tmp_path, tiny_bert_builder):
    from mlflow import MlflowClient

    from models.text_tfidf import TfidfTextClassifier
    from training.train_text import train_text_model
    from training.train_transformer import registered_tfidf, train_transformer_model

    dataset = _dataset()
    data_path = tmp_path / "text.parquet"
    dataset.write_parquet(data_path)
    encoder = tiny_bert_builder(tmp_path / "tiny", dataset["text"].to_list())
    use_local_store(tmp_path, "gridsense-text")
    taxonomy = load_taxonomy()
    train_text_model(dataset, taxonomy, data_path, tmp_path, alias="champion", params={"calibration_cv": 2})

    fast = registered_tfidf("champion")
    assert isinstance(fast, TfidfTextClassifier)
    result = train_transformer_model(
        dataset,
        taxonomy,
        data_path,
        tmp_path,
        alias=None,
        schedule="demo",
        fast_model=fast,
        params={"encoder_dir": encoder, "epochs": 1, "calibration_share": 0.0},
    )
    assert result.model_version is None
    assert MlflowClient().get_run(result.run_id).data.params["cascade.tfidf_reused"] == "True"
