"""/docs works offline: the page references only this server, and the Swagger UI files are served here."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from serving.api_docs import SWAGGER_FILES, docs_assets_missing

URL_ATTRIBUTE = re.compile(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""")


@pytest.fixture
def anonymous(app) -> TestClient:
    return TestClient(app)


def page_urls(html: str) -> list[str]:
    return URL_ATTRIBUTE.findall(html)


def test_docs_page_references_no_other_host(anonymous):
    response = anonymous.get("/docs")

    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    urls = page_urls(response.text)
    assert len(urls) >= 4  # the css, the favicon, the script and the OpenAPI document
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert not re.search(r"https?://", response.text)  # no CDN, no validator.swagger.io
    assert '"validatorUrl": null' in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.skipif(bool(docs_assets_missing()), reason="run `make dashboard-assets` (npm) first")
def test_every_asset_of_the_docs_page_is_served(anonymous):
    for url in page_urls(anonymous.get("/docs").text):
        response = anonymous.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 100, url
    assert "SwaggerUIBundle" in anonymous.get("/docs/static/swagger-ui-bundle.js").text


def test_only_the_swagger_files_are_served(anonymous, assert_error):
    assert set(SWAGGER_FILES) == {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}
    for name in ("echarts.min.js", "..%2F..%2Fapi_docs.py", "index.html"):
        assert_error(anonymous.get(f"/docs/static/{name}"), 404, "not_found", None)


def test_redoc_and_the_oauth_redirect_are_off(anonymous, assert_error):
    assert_error(anonymous.get("/redoc"), 404, "not_found", None)
    assert_error(anonymous.get("/docs/oauth2-redirect"), 404, "not_found", None)
