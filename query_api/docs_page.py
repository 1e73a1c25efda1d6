"""``/docs``: Swagger UI served from the ``swagger-ui-bundle`` package's files, so the page
works offline (FastAPI's default loads it from a CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def swagger_dir() -> Path:
    """The folder of Swagger UI's dist files inside the installed swagger-ui-bundle."""
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


def install(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve Swagger UI's files under /docs-assets and the page at /docs."""
    app.mount(ASSETS, StaticFiles(directory=swagger_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
