"""The interactive API docs, /docs (Swagger UI) and /redoc (ReDoc), served
whole by hubbub: their scripts and styles come from /docs/assets on the same
server, never from a CDN, so they work on a machine with no internet access.

The assets are the builds FastAPI would load from its CDN (Swagger UI 5,
ReDoc 2), as shipped by the `fastapi-offline` package: a dependency, so they
are updated with it and never copied into this tree. The pages are FastAPI's
own (`get_swagger_ui_html`, `get_redoc_html`), pointed at them
(https://fastapi.tiangolo.com/how-to/custom-docs-ui-assets/).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
# (package, folder): swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js.
ASSET_PACKAGE = ("fastapi_offline", "static")
SWAGGER_JS = f"{ASSETS}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{ASSETS}/swagger-ui.css"
REDOC_JS = f"{ASSETS}/redoc.standalone.js"
FAVICON = "/favicon.svg"  # the web client's


def install(app: FastAPI) -> None:
    """Add /docs, /redoc and their assets (create the app with
    `docs_url=None, redoc_url=None`, so FastAPI's CDN pages are not there)."""
    app.mount(ASSETS, StaticFiles(packages=[ASSET_PACKAGE]), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=root + SWAGGER_JS,
            swagger_css_url=root + SWAGGER_CSS,
            swagger_favicon_url=root + FAVICON,
            # No badge from validator.swagger.io; the token survives a reload.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=root + REDOC_JS,
            redoc_favicon_url=root + FAVICON,
            with_google_fonts=False,
        )


def _root(request: Request) -> str:
    """The prefix a proxy mounts the app under (uvicorn's `--root-path`)."""
    return str(request.scope.get("root_path", "")).rstrip("/")
