"""The conversation explorer: loomline's own web UI.

Static, hand-written ES modules, CSS and an HTML shell (``web/static``), no build step and
no third-party code. The pages read everything through the JSON API under ``/api/v1`` on
the same listener. ``install(app)`` adds ``/`` (the shell) and ``/ui/*`` (the assets) to
the query API's FastAPI app; web/ imports nothing from loomline's other rooms.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"

# Everything comes from this origin; inline SVG and styles set by the modules are allowed.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


class _Assets(StaticFiles):
    """The assets, revalidated on every load so an upgrade shows at once (they are small)."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install(app: FastAPI) -> None:
    """Serve the explorer at ``/`` and its files at ``/ui/`` on ``app``."""
    app.mount("/ui", _Assets(directory=STATIC_DIR), name="ui")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers={
            "Cache-Control": "no-cache", "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        })
