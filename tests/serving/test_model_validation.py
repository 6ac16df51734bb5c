"""The check before a hot swap (issue 10, item 4): a candidate is scored on the validation sample stored
with it. A model that answers only the old smoke sentence, one that raises on most reports and one that
answers constant garbage are refused; a good one is accepted; /readyz shows the served version's check
and turns 503 when the served model stops answering."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from features.taxonomy import load_taxonomy
from models.validation_sample import ValidationFailed, text_sample
from serving.deps import get_resources
from serving.hot_swap import HotSwap
from serving.model_check import PROBE_REPORTS, TextModelCheck
from serving.resources import FORECASTS, TEXT_MODEL, Resources
from serving.text_service import TextClassifierService, smoke_test

from .conftest import FakeRegistry

OLD_SMOKE_SENTENCE = PROBE_REPORTS[0]  # the one sentence the old smoke test sent
REPORTS = {
    "城市管理/市容秩序/占道经营": [
        "小区门口有人占道摆摊卖水果",
        "路边流动摊贩堵住人行道",
        "早市摊位占了半条马路",
    ],
    "安全隐患/消防安全/消防通道堵塞": [
        "楼道里堆满杂物堵住消防通道",
        "消防车通道被私家车占用",
        "安全出口被纸箱堵死",
    ],
    "城市管理/噪音扰民/社会生活噪音": [
        "楼上半夜装修电钻声很大",
        "广场舞音响声音太吵",
        "酒吧音乐声吵得睡不着",
    ],
}
TOLERANCE = 0.03


def dataset(variants: range) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "text": [f"{text}，第{i}次" for texts in REPORTS.values() for text in texts for i in variants],
            "leaf_id": [leaf for leaf, texts in REPORTS.items() for _ in texts for _ in variants],
        }
    )


@pytest.fixture(scope="module")
def good():
    from models.text_tfidf import TfidfTextClassifier

    train = dataset(range(4))
    return TfidfTextClassifier(taxonomy=load_taxonomy(), min_df=1, calibration_cv=2).fit(
        train["text"].to_list(), train["leaf_id"].to_list()
    )


@pytest.fixture(scope="module")
def sample(good):
    return text_sample(dataset(range(4, 8)), good)  # held-out variants, scored by the good model


class OneSentence:
    """Built to pass the old smoke test: answers its one sentence, raises on anything else."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def describe(self, texts, **kwargs):
        if any(text != OLD_SMOKE_SENTENCE for text in texts):
            raise RuntimeError("cannot classify")
        return self.inner.describe(texts, **kwargs)

    def evidence(self, texts, top_n=3):
        return self.inner.evidence(texts, top_n)


class MostlyRaising(OneSentence):
    """Answers reports about fire exits, raises on everything else."""

    def describe(self, texts, **kwargs):
        if not all("消防" in text or "安全出口" in text for text in texts):
            raise ValueError("vocabulary error")
        return self.inner.describe(texts, **kwargs)


class ConstantGarbage(OneSentence):
    """Valid-looking answers, always the same one, whatever the report."""

    def describe(self, texts, **kwargs):
        return self.inner.describe([OLD_SMOKE_SENTENCE] * len(texts), **kwargs)

    def predict(self, texts):
        return self.inner.predict([OLD_SMOKE_SENTENCE] * len(list(texts)))


class Switchable(OneSentence):
    """The good model until `broken` is set."""

    broken = False

    def describe(self, texts, **kwargs):
        if self.broken:
            raise MemoryError("mapped model file went away")
        return self.inner.describe(texts, **kwargs)


def service(classifier, version: str = "1") -> TextClassifierService:
    return TextClassifierService(classifier, "gridsense-text", version)


def check(sample, unsampled: str = "refuse") -> TextModelCheck:
    return TextModelCheck(sample_for=lambda version: sample, tolerance=TOLERANCE, unsampled=unsampled)


BAD_MODELS = [OneSentence, MostlyRaising, ConstantGarbage]


def test_a_good_model_passes_on_its_stored_sample(good, sample):
    summary = check(sample)(service(good))

    assert "accuracy_leaf" in summary and f"on {sample.rows.height} stored validation reports" in summary
    assert sample.recorded["accuracy_leaf"] > 0.5  # the floor is a real score


@pytest.mark.parametrize(
    ("bad", "refusal"),
    [
        (OneSentence, "cannot classify"),
        (MostlyRaising, "vocabulary error"),
        (ConstantGarbage, "below the floor"),
    ],
)
def test_bad_models_pass_the_old_smoke_test_but_are_refused_on_the_stored_sample(good, sample, bad, refusal):
    candidate = service(bad(good))
    if bad is not MostlyRaising:
        smoke_test(candidate, OLD_SMOKE_SENTENCE)  # the old check let them through

    with pytest.raises((ValidationFailed, RuntimeError, ValueError), match=refusal):
        check(sample)(candidate)


def test_constant_garbage_is_refused_even_with_its_own_recorded_scores(good):
    garbage = ConstantGarbage(good)
    own = text_sample(dataset(range(4, 8)), garbage)  # the floor recorded from the garbage itself

    with pytest.raises(ValidationFailed, match="most frequent label"):
        check(own)(service(garbage))


@pytest.mark.parametrize("bad", BAD_MODELS)
def test_versions_without_a_sample_are_refused_or_probed(good, bad):
    with pytest.raises(ValidationFailed, match="no validation sample"):
        check(None)(service(good))
    assert "probe reports" in check(None, unsampled="probe")(service(good))

    with pytest.raises(Exception):  # noqa: B017  (each bad model fails in its own way)
        check(None, unsampled="probe")(service(bad(good)))


# ---- through the hot swap and the API ---------------------------------------------------------------
class VersionedSource:
    """Registry versions -> classifiers; the alias is moved by the test."""

    kind = "registry"

    def __init__(self, classifiers: dict) -> None:
        self.classifiers = classifiers
        self.version = "1"

    def current_version(self) -> str:
        return self.version

    def load(self, version: str) -> TextClassifierService:
        return service(self.classifiers[version], version)

    def load_last_good(self):
        return None

    def keep_as_last_good(self, version: str) -> None:
        return None


@pytest.fixture
def swapping(app, store, good, sample, admin_headers):
    switchable = Switchable(good)
    classifiers = {
        "1": switchable,
        "2": OneSentence(good),
        "3": MostlyRaising(good),
        "4": ConstantGarbage(good),
    }
    source = VersionedSource(classifiers)
    model_check = check(sample)
    swap = HotSwap(TEXT_MODEL, source, smoke_test=model_check, recheck=model_check.recheck)
    resources = Resources(registry=FakeRegistry(), text=swap, forecasts=HotSwap.fixed(FORECASTS, store))
    swap.refresh("start-up")
    app.dependency_overrides[get_resources] = lambda: resources
    yield source, swap, switchable, TestClient(app, headers=admin_headers)
    app.dependency_overrides.clear()


@pytest.mark.parametrize("bad_version", ["2", "3", "4"])
def test_a_bad_version_is_never_swapped_in_and_requests_keep_working(swapping, bad_version):
    source, swap, _, client = swapping
    source.version = bad_version

    event = swap.refresh("poll")
    answer = client.post("/v1/classify", json={"text": "楼道里堆满杂物，消防通道被堵了"})
    ready = client.get("/readyz")

    assert event.outcome == "failed" and swap.active.version == "1"
    assert answer.status_code == 200 and answer.json()["model"]["version"] == "1"
    assert ready.status_code == 200
    component = ready.json()["components"][TEXT_MODEL]
    assert component["failed_version"] == bad_version
    assert component["check"]["version"] == "1" and component["check"]["passed"] is True


def test_readyz_shows_the_check_and_turns_503_when_the_served_model_stops_answering(swapping):
    source, swap, switchable, client = swapping
    first = client.get("/readyz").json()["components"][TEXT_MODEL]["check"]
    assert first["passed"] and "accuracy_leaf" in first["detail"]

    switchable.broken = True
    swap.refresh("poll")  # the same version: re-checked
    broken = client.get("/readyz")

    assert broken.status_code == 503
    assert any("does not answer" in reason for reason in broken.json()["missing"])
    assert broken.json()["components"][TEXT_MODEL]["check"]["passed"] is False

    switchable.broken = False
    swap.refresh("poll")
    assert client.get("/readyz").status_code == 200


def test_the_sample_is_found_in_the_cached_model_directory(tmp_path: Path, good, sample):
    """resources.text_model_check reads the sample stored in the version's cached MLflow directory."""
    from core.settings import Settings
    from models.pyfunc import save_text_model
    from serving.resources import text_model_check
    from serving.text_service import MlflowTextModelSource

    settings = Settings(home=tmp_path)
    source = MlflowTextModelSource(settings)
    save_text_model(good, source.cache.path_of("5"), validation_sample=sample)

    summary = text_model_check(source, settings)(service(good, version="5"))

    assert f"on {sample.rows.height} stored validation reports" in summary
    with pytest.raises(ValidationFailed, match="no validation sample"):
        text_model_check(source, settings)(service(good, version="6"))  # not in the cache: no sample
