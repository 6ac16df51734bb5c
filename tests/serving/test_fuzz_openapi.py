"""Property-based fuzzing of the API against its own OpenAPI schema (schemathesis + hypothesis): for
generated valid and invalid requests, no 5xx, and every response matches the documented schema,
status code, content type and headers. Bounded: a few dozen examples per operation, seconds in all.

The caller holds a data_scientist key, so every route is reached (schemathesis also checks that
invalid credentials are refused). The app and its key are made at import because schemathesis'
fixture loader does not support pytest 9.
"""

from __future__ import annotations

import tempfile

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from core.keys import KeyFile, Role
from core.settings import Settings
from serving.deps import get_registry, get_resources
from serving.forecast_store import ForecastStore
from serving.main import create_app
from serving.resources import Resources
from serving.text_service import TextClassifierService

from .conftest import FakeClassifier, FakeRegistry, forecast_table
from .fuzzing import FUZZ_CONFIG, MAX_EXAMPLES

pytestmark = pytest.mark.slow  # loads models or MLflow: `make test-fast` skips it

LIMITS = {"max_text_chars": 200, "max_batch": 8}


def _fuzzed_app() -> tuple[FastAPI, str]:
    home = tempfile.mkdtemp(prefix="gridsense-fuzz-")
    # no rate limit: fuzzing sends hundreds of requests a second, and should test answers, not 429s
    settings = Settings(home=home, reload_interval_seconds=0, rate_limit_data_scientist="", **LIMITS)
    key = KeyFile(settings.api_keys_path).create(Role.DATA_SCIENTIST, label="fuzz").key
    app = create_app(settings)
    service = TextClassifierService(FakeClassifier(), "gridsense-text", "7", **LIMITS)
    loaded = Resources.fixed(
        FakeRegistry(), text_service=service, forecast_store=ForecastStore(forecast_table())
    )
    app.dependency_overrides[get_resources] = lambda: loaded
    app.dependency_overrides[get_registry] = FakeRegistry
    return app, key


APP, KEY = _fuzzed_app()
# The operations this suite can load data for. Routes of other features (e.g. the dashboard's /v1/grids)
# need their own tables: fuzz them where those fixtures live, with the same call.
CORE_TAGS = ["classify", "risk", "models", "admin", "metrics", "health"]
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=FUZZ_CONFIG).include(tag=CORE_TAGS)


@pytest.mark.timeout(120)
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_fails_and_matches_its_schema(case):
    case.call_and_validate(
        headers={"X-API-Key": KEY},
        # Schema-valid data may still be refused on purpose (an unknown grid id is a 404, a week other
        # than the served one too), so "positive data must be accepted" does not hold for this API.
        excluded_checks=[st_checks.positive_data_acceptance],
    )
