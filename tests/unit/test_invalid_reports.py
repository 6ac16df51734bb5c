"""The invalid-report model: learned from the demo city's ground truth, the pyfunc contract, registration."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import polars as pl
import pytest

from core.errors import DataFileError
from core.registry import INVALID_EXPERIMENT, INVALID_MODEL_NAME
from demo_city import generate_demo_city
from models.invalid_pyfunc import InvalidReportModel
from models.invalid_reports import LABELS, InvalidReportClassifier, invalid_metrics
from training.train_invalid import invalid_dataset, train_invalid_model


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    city = generate_demo_city(tmp_path_factory.mktemp("city"), seed=5, n_grids=60, weeks=40)
    return pl.read_parquet(city.events_path)


@pytest.fixture(scope="module")
def fitted(events: pl.DataFrame) -> tuple[InvalidReportClassifier, pl.DataFrame]:
    data = invalid_dataset(events)
    train = data.filter(pl.col("split") == "train")
    return InvalidReportClassifier().fit(train["text"].to_list(), train["label"].to_list()), data


def test_the_split_is_by_time_and_labels_are_valid_or_a_reason(events: pl.DataFrame) -> None:
    data = invalid_dataset(events)
    assert set(data["label"]) == set(LABELS)
    last_train = data.filter(pl.col("split") == "train")["reported_at"].max()
    assert data.filter(pl.col("split") == "test")["reported_at"].min() >= last_train
    with pytest.raises(DataFileError, match="invalid_reason"):
        invalid_dataset(events.drop("invalid_reason"))


def test_the_model_finds_invalid_reports_in_a_later_period(fitted) -> None:
    model, data = fitted
    test = data.filter(pl.col("split") == "test")
    metrics = invalid_metrics(test["label"].to_list(), model.predict(test["text"].to_list()))
    assert metrics["invalid_f1"] > 0.85 and metrics["invalid_precision"] > 0.9


def test_decisions_follow_the_contract_and_unsure_reports_go_to_a_person(fitted) -> None:
    model, _ = fitted
    texts = ["测试", "", "桂花新村3幢楼道里堆满了纸箱，消防通道被堵住了，请尽快清理", "哈哈哈哈哈哈"]
    decision = model.decide(texts)
    assert list(decision.columns) == ["invalid", "reason", "confidence", "needs_review"]
    assert decision["invalid"].tolist() == [True, True, False, True]
    assert decision.loc[0, "reason"] == "test" and decision.loc[2, "reason"] is None
    assert decision["confidence"].between(0.5, 1.0).all()
    assert (decision["needs_review"] == (decision["confidence"] < model.review_threshold)).all()
    strict = InvalidReportClassifier(review_threshold=1.01)
    strict.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    assert strict.decide(texts)["needs_review"].all()


def test_the_pyfunc_takes_title_and_text(fitted) -> None:
    model, _ = fitted
    frame = pd.DataFrame(
        {"title": ["测试", None], "text": ["测试数据，请忽略", "小区门口的路灯坏了好几天了"]}
    )
    out = InvalidReportModel.predict_with(model, frame)
    assert out["invalid"].tolist() == [True, False]
    assert out.loc[0, "reason"] == "test"


def test_intake_asks_the_classifier_inside_the_pyfunc_and_gets_the_pyfunc_s_answer(fitted, tmp_path) -> None:
    from core.settings import Settings
    from models.invalid_pyfunc import invalid_model_signature, own_classifier
    from models.persistence import save_estimator
    from serving.intake_service import InvalidModelSlot

    model, _ = fitted
    path = save_estimator(model, tmp_path / "invalid.joblib")
    mlflow.pyfunc.save_model(
        tmp_path / "pyfunc",
        python_model=InvalidReportModel(),
        artifacts={"invalid_classifier": str(path)},
        signature=invalid_model_signature(),
    )
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "pyfunc"))
    assert own_classifier(loaded) is not None and own_classifier(object()) is None
    titles = ["测试", None, "", "小区门口", "电话13812345678"]
    texts = ["测试数据，请忽略", "小区门口的路灯坏了好几天了", "哈哈哈哈哈", "", "楼道堆满杂物"]
    slot = InvalidModelSlot(Settings(home=tmp_path))
    slot.model, slot.version = loaded, "1"
    direct = slot.predict(titles, texts)
    expected = loaded.predict(pd.DataFrame({"title": [t or "" for t in titles], "text": texts}))
    assert [v.invalid for v in direct] == expected["invalid"].tolist()
    assert [v.confidence for v in direct] == expected["confidence"].tolist()
    assert [v.reason for v in direct] == [r if isinstance(r, str) else None for r in expected["reason"]]
    assert direct[0].invalid and direct[0].reason == "test"


@pytest.mark.slow
def test_training_registers_a_champion_version(events: pl.DataFrame, tmp_path: Path) -> None:
    from training.tracking import use_local_store

    use_local_store(tmp_path, INVALID_EXPERIMENT)
    try:
        result = train_invalid_model(events, "events.parquet", tmp_path, max_valid_train=3000)
        assert result.model_version == "1"
        assert result.metrics["test.invalid_f1"] > 0.8
        assert "test_unseen.invalid_f1" in result.metrics
        loaded = mlflow.pyfunc.load_model(f"models:/{INVALID_MODEL_NAME}@champion")
        out = loaded.predict(pd.DataFrame({"title": [""], "text": ["专业开锁换锁，二十四小时服务"]}))
        assert bool(out["invalid"].iloc[0])
    finally:
        mlflow.set_tracking_uri(None)
