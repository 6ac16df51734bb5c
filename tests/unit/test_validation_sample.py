"""The validation sample stored with a model (issue 10, item 4): what it keeps, and the risk check on
it (finite probabilities in [0, 1], one per row and group, as recorded)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.validation_sample import (
    ValidationFailed,
    ValidationSample,
    check_risk,
    check_text,
    risk_sample,
    text_sample,
)


class Forecaster:
    """Probabilities from the row's count feature: varied, deterministic."""

    groups = ("dispute", "hazard")

    def predict_proba(self, panel):
        counts = np.asarray(panel["n_last"], dtype=float)
        return {"dispute": counts / (counts + 5), "hazard": counts / (counts + 20)}


class Constant(Forecaster):
    def predict_proba(self, panel):
        return {group: np.full(len(panel), 0.05) for group in self.groups}


class NotAProbability(Forecaster):
    def predict_proba(self, panel):
        return {"dispute": np.full(len(panel), np.nan), "hazard": np.full(len(panel), 1.5)}


class WrongShape(Forecaster):
    def predict_proba(self, panel):
        return {group: np.full(3, 0.1) for group in self.groups}


class OneGroup(Forecaster):
    def predict_proba(self, panel):
        return {"dispute": super().predict_proba(panel)["dispute"]}


@pytest.fixture
def panel() -> pl.DataFrame:
    return pl.DataFrame(
        {"grid_id": [f"G{i:04d}" for i in range(300)], "n_last": [i % 17 for i in range(300)]}
    )


def test_the_risk_sample_keeps_rows_and_recorded_probabilities(panel, tmp_path):
    sample = risk_sample(panel, Forecaster(), rows=200)
    loaded = ValidationSample.load(sample.save(tmp_path / "sample"))

    assert loaded.kind == "risk" and loaded.rows.height == 200 and loaded.groups == ["dispute", "hazard"]
    assert "largest difference" in check_risk(loaded, Forecaster().predict_proba(loaded.rows))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (Constant, "differ from the recorded"),
        (NotAProbability, "not finite or outside"),
        (WrongShape, "shape"),
        (OneGroup, "no probabilities for"),
    ],
)
def test_bad_risk_models_are_refused(panel, bad, reason):
    sample = risk_sample(panel, Forecaster())

    with pytest.raises(ValidationFailed, match=reason):
        check_risk(sample, bad().predict_proba(sample.rows))


class Keyword:
    def predict(self, texts):
        return ["a" if "甲" in text else "b" for text in texts]


def test_the_text_sample_is_redacted_and_scored(tmp_path):
    test = pl.DataFrame(
        {
            "text": ["甲事 电话13812345678"] * 5 + ["乙事"] * 5,
            "leaf_id": ["a"] * 5 + ["b"] * 5,
        }
    )
    sample = ValidationSample.load(text_sample(test, Keyword(), rows=8).save(tmp_path / "s"))

    assert sample.rows.height == 8 and not any("13812345678" in text for text in sample.texts)
    assert sample.recorded == {"accuracy_leaf": 1.0, "macro_f1_leaf": 1.0}
    assert "floor 0.970" in check_text(sample, Keyword().predict(sample.texts), tolerance=0.03)
    with pytest.raises(ValidationFailed, match="below the floor"):
        check_text(sample, ["a"] * 8, tolerance=0.03)
    with pytest.raises(ValidationFailed, match="answers for"):
        check_text(sample, ["a"], tolerance=0.03)
