"""Every test runs without the operator's GRIDSENSE_* settings (docs/SETTINGS.md): an exported
GRIDSENSE_MLFLOW_TRACKING_URI or GRIDSENSE_HOME must never send a test's runs or files to a real store.
Tests that need a setting set it themselves (monkeypatch or Settings(...))."""

from __future__ import annotations

import os

import pytest

TEST_VARIABLES = {"GRIDSENSE_CHROMIUM", "GRIDSENSE_FUZZ_EXAMPLES", "GRIDSENSE_UPDATE_README_SCREENSHOT"}


@pytest.fixture(autouse=True)
def _no_operator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("GRIDSENSE_")]:
        if name not in TEST_VARIABLES:
            monkeypatch.delenv(name)
