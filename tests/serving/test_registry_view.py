from __future__ import annotations

from types import SimpleNamespace

from serving.registry import MlflowRegistryView


class FakeMlflowClient:
    """Just the MlflowClient methods the view calls; gridsense-risk is not registered."""

    def get_registered_model(self, name):
        if name != "gridsense-text":
            raise RuntimeError(f"RESOURCE_DOES_NOT_EXIST: Registered Model with name={name} not found")
        return SimpleNamespace(aliases={"champion": "2", "challenger": "3"})

    def search_model_versions(self, filter_string):
        return [
            SimpleNamespace(
                version=v, run_id=f"run{v}", creation_timestamp=1_767_225_600_000 + v, status="READY"
            )
            for v in (2, 3, 1)
        ]

    def get_run(self, run_id):
        if run_id == "run1":
            raise RuntimeError("run deleted")
        return SimpleNamespace(data=SimpleNamespace(metrics={"test_macro_f1": 0.8, "test_auc": float("nan")}))


def test_versions_newest_first_with_aliases_and_finite_metrics():
    view = MlflowRegistryView(
        "sqlite:///unused.db", ["gridsense-text", "gridsense-risk"], client=FakeMlflowClient()
    )

    text_model, risk_model = view.describe().models

    assert [v.version for v in text_model.versions] == ["3", "2", "1"]
    assert [v.aliases for v in text_model.versions] == [["challenger"], ["champion"], []]
    assert text_model.versions[1].metrics == {"test_macro_f1": 0.8}
    assert text_model.versions[2].metrics == {}  # its run is gone; the version is still listed
    assert text_model.versions[0].created_at.year == 2026
    assert risk_model.versions == [] and "not found" in risk_model.error


def test_a_missing_database_is_reported_not_created(tmp_path):
    database = tmp_path / "mlflow.db"
    view = MlflowRegistryView(f"sqlite:///{database}", ["gridsense-text"])

    answer = view.describe()

    assert "does not exist" in answer.error
    assert [model.name for model in answer.models] == ["gridsense-text"]
    assert not database.exists()
