"""The supervisor dashboard: one static page at /dashboard that reads the public JSON API.

The page and its assets hold no data and need no key (like /docs); every number on it comes from the
key-protected API (`/v1/risk`, `/v1/grids...`, `/v1/classify`, `/v1/models`), called from the browser with
the key the user logs in with. Third-party libraries (ECharts) are copied into `static/vendor/` at build
time by `build_assets.sh`; nothing is fetched from elsewhere at run time, and the Content-Security-Policy
below makes the browser refuse it if something tried.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException

STATIC_DIR = (Path(__file__).parent / "static").resolve()
VENDOR_FILES = ("vendor/echarts.min.js",)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # ECharts positions its tooltip with inline styles
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/dashboard", response_class=FileResponse)
async def dashboard() -> FileResponse:
    page = STATIC_DIR / "index.html"
    return FileResponse(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/dashboard/static/{path:path}", response_class=FileResponse)
async def static_file(path: str) -> FileResponse:
    file = (STATIC_DIR / path).resolve()
    return asset_response(file, file.is_relative_to(STATIC_DIR), path in VENDOR_FILES, "dashboard asset")


def asset_response(file: Path, allowed: bool, built_by_npm: bool, what: str) -> FileResponse:
    """A static front-end file, or a 404 that says how to build it when it is one the npm step copies."""
    if not allowed or not file.is_file():
        detail = f"{what} not found"
        if built_by_npm:
            detail += "; build the front-end libraries with `make dashboard-assets`"
        raise HTTPException(status_code=404, detail=detail)
    return FileResponse(file, headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})


def vendor_assets_missing() -> list[str]:
    """The third-party files `build_assets.sh` has not copied yet."""
    return [name for name in VENDOR_FILES if not (STATIC_DIR / name).is_file()]
