"""The OpenAPI docs page works in a real browser with no network but this server (issue 10: Swagger UI was
loaded from a CDN and failed offline)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow


def test_swagger_ui_renders_every_operation_from_local_assets_only(page, base_url):
    page.goto(f"{base_url}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_text_contents()
    assert any("/v1/classify" in path for path in paths)
    assert any("/v1/risk" in path for path in paths)
    server = urlsplit(base_url).netloc
    foreign = [url for url in page.requests if urlsplit(url).netloc not in (server, "")]
    assert foreign == []  # every script, style and the schema came from this server
    assert page.problems == []
