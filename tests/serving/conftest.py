"""Fakes for the serving tests: a classifier, a small forecasts table, a registry. No MLflow."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.keys import KeyFile, Role
from core.settings import Settings
from serving.deps import get_registry, get_resources
from serving.forecast_store import ForecastStore
from serving.main import create_app
from serving.resources import Resources
from serving.schemas import ModelsResponse, ModelVersionInfo, RegisteredModelInfo
from serving.text_service import TextClassifierService

NOISE = ("矛盾纠纷/邻里纠纷/噪音扰邻纠纷", "矛盾纠纷", "邻里纠纷", "噪音扰邻纠纷", "社区居委会", "dispute")
MANHOLE = ("安全隐患/市政设施/井盖破损", "安全隐患", "市政设施", "井盖破损", "市政管理部门", "hazard")


@dataclass
class FakePrediction:
    leaf_id: str
    category_l1: str
    category_l2: str
    category_l3: str
    p_l1: float
    p_l2: float
    p_l3: float
    department: str
    risk_group: str
    needs_review: bool
    alternatives: list = field(default_factory=list)
    labels: list = field(default_factory=list)


@dataclass(frozen=True)
class FakeEvidence:
    phrase: str
    weight: float


class FakeClassifier:
    """Reports mentioning 井盖 are hazards, everything else a noise dispute; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    @property
    def taxonomy_(self):
        """The demo taxonomy (both leaves it answers are in it): what feedback is checked against."""
        from features.taxonomy import load_taxonomy

        return load_taxonomy()

    def describe(
        self,
        texts: Sequence[str],
        top_k: int = 3,
        review_threshold: float | None = None,
        label_threshold: float | None = None,
    ):
        self.calls.append(
            {
                "texts": list(texts),
                "top_k": top_k,
                "review_threshold": review_threshold,
                "label_threshold": label_threshold,
            }
        )
        return [self._predict(text, top_k, review_threshold) for text in texts]

    def evidence(self, texts: Sequence[str], top_n: int = 3) -> list[list[FakeEvidence]]:
        """The manhole phrase when there is one; records the texts it explained."""
        self.calls.append({"evidence": list(texts), "top_n": top_n})
        return [[FakeEvidence("井盖松动", 0.5)] if "井盖" in text else [] for text in texts]

    @staticmethod
    def _predict(text: str, top_k: int, review_threshold: float | None) -> FakePrediction:
        best, other = (MANHOLE, NOISE) if "井盖" in text else (NOISE, MANHOLE)
        p_best = 0.9 if "井盖" in text else 0.4
        alternatives = [
            {"leaf_id": best[0], "category_l3": best[3], "probability": p_best, "department": best[4]},
            {"leaf_id": other[0], "category_l3": other[3], "probability": 1 - p_best, "department": other[4]},
        ][:top_k]
        needs_review = review_threshold is not None and p_best < review_threshold
        return FakePrediction(
            *best[:4], p_best, p_best, p_best, *best[4:], needs_review, alternatives, alternatives[:1]
        )


class FakeRegistry:
    def describe(self) -> ModelsResponse:
        champion = ModelVersionInfo(
            version="2", aliases=["champion"], run_id="r2", metrics={"test_macro_f1": 0.81}
        )
        return ModelsResponse(
            models=[
                RegisteredModelInfo(
                    name="gridsense-text", versions=[champion, ModelVersionInfo(version="1")]
                ),
                RegisteredModelInfo(name="gridsense-risk", error="not registered"),
            ]
        )


def forecast_table() -> pl.DataFrame:
    """Four grids, two weeks (only the later one is served), both groups."""
    grids = ["G0001", "G0002", "G0003", "G0004"]
    latest = {
        "dispute": [0.10, 0.70, 0.40, 0.20],  # ranks 4, 1, 2, 3
        "hazard": [0.50, 0.05, 0.30, 0.60],  # ranks 2, 4, 3, 1
    }
    frames = []
    for week, scale in ((date(2026, 1, 5), 0.5), (date(2026, 1, 12), 1.0)):
        for group, probabilities in latest.items():
            frames.append(
                pl.DataFrame(
                    {
                        "grid_id": grids,
                        "week_start": [week] * 4,
                        "group": [group] * 4,
                        "probability": [p * scale for p in probabilities],
                    }
                )
            )
    return pl.concat(frames).with_columns(
        rank=pl.col("probability")
        .rank(method="ordinal", descending=True)
        .over("week_start", "group")
        .cast(pl.Int32),
        model_name=pl.lit("gridsense-risk"),
        model_version=pl.lit("5"),
        district=pl.lit("朝阳区"),
    )


@pytest.fixture
def classifier() -> FakeClassifier:
    return FakeClassifier()


@pytest.fixture
def text_service(classifier: FakeClassifier) -> TextClassifierService:
    return TextClassifierService(classifier, "gridsense-text", "7", max_text_chars=50, max_batch=4)


@pytest.fixture
def store() -> ForecastStore:
    return ForecastStore(forecast_table())


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Polling off: tests trigger reloads themselves."""
    return Settings(home=tmp_path, reload_interval_seconds=0, keys_refresh_seconds=0)


@pytest.fixture
def api_keys(settings: Settings) -> dict[str, str]:
    """One key per role, in the app's key file."""
    key_file = KeyFile(settings.api_keys_path)
    return {role.value: key_file.create(role, label="test").key for role in Role}


@pytest.fixture
def admin_headers(api_keys: dict[str, str]) -> dict[str, str]:
    return {"X-API-Key": api_keys["data_scientist"]}


@pytest.fixture
def app(settings: Settings, api_keys: dict[str, str]) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def loaded(text_service: TextClassifierService, store: ForecastStore) -> Resources:
    return Resources.fixed(registry=FakeRegistry(), text_service=text_service, forecast_store=store)


@pytest.fixture
def client(app: FastAPI, loaded: Resources, admin_headers: dict[str, str]) -> Iterator[TestClient]:
    """The app with everything loaded (fakes), called with a data_scientist key; no lifespan runs."""
    app.dependency_overrides[get_resources] = lambda: loaded
    app.dependency_overrides[get_registry] = FakeRegistry
    yield TestClient(app, headers=admin_headers)
    app.dependency_overrides.clear()


def _assert_error(response, status: int, code: str, field: str | None) -> dict:
    """The one error envelope: status, code, field, a message and the request id echoed in the header."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["field"] == field, error
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    return error


@pytest.fixture
def assert_error():
    return _assert_error


@pytest.fixture
def forecasts() -> pl.DataFrame:
    return forecast_table()
