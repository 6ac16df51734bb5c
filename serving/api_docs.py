"""The interactive API description at /docs (Swagger UI), served from this machine: it works offline.

FastAPI's own /docs page loads Swagger UI from a CDN (and its favicon from fastapi.tiangolo.com). Here the
page points at copies that `serving/dashboard/build_assets.sh` takes from the npm package pinned in
package-lock.json, and its Content-Security-Policy makes the browser refuse anything from another host.
ReDoc is off (FastAPI's /redoc would need a CDN too). Like /openapi.json, none of this needs a key.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from serving.dashboard import STATIC_DIR, asset_response

DOCS_URL = "/docs"
ASSETS_URL = "/docs/static"
SWAGGER_FILES = {
    "swagger-ui-bundle.js": "swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui.css",
    "favicon.png": "swagger-ui-favicon.png",
}  # URL name -> file in the dashboard's vendor folder
VENDOR_DIR = STATIC_DIR / "vendor"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # the page starts Swagger UI with an inline script
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

router = APIRouter(include_in_schema=False)


@router.get(DOCS_URL)
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        oauth2_redirect_url=None,  # the API has no OAuth2 flow
        swagger_ui_parameters={"validatorUrl": None},  # else Swagger UI sends the spec to swagger.io
    )
    page.headers.update(
        {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"}
    )
    return page


@router.get(ASSETS_URL + "/{name}")
async def swagger_asset(name: str) -> FileResponse:
    known = name in SWAGGER_FILES
    return asset_response(VENDOR_DIR / SWAGGER_FILES.get(name, ""), known, known, "API docs asset")


def docs_assets_missing() -> list[str]:
    """The Swagger UI files `build_assets.sh` has not copied yet."""
    return [file for file in SWAGGER_FILES.values() if not (VENDOR_DIR / file).is_file()]
