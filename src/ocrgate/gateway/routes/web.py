"""The web client, served by the gateway: `/`, its static files, its icon (or `/docs` where it is absent)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
ICON = "favicon.svg"


def mount_web(app: FastAPI) -> None:
    """Serve the web client at `/` (its files under `/static`, its icon also at `/favicon.ico`, which
    browsers ask for on their own); redirect to `/docs` without it."""
    router = APIRouter(include_in_schema=False)
    if (WEB_DIR / "index.html").is_file():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

        @router.get("/")
        def index() -> FileResponse:
            return FileResponse(WEB_DIR / "index.html")

        @router.get("/favicon.ico")
        def favicon() -> FileResponse:
            return FileResponse(WEB_DIR / ICON, media_type="image/svg+xml")

    else:

        @router.get("/")
        def index_redirect() -> RedirectResponse:
            return RedirectResponse("/docs")

    app.include_router(router)
