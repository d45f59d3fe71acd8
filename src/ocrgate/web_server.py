"""The web client on its own port (3000 by default), talking to a gateway elsewhere.

The gateway must allow this origin: `cors_origins = ["http://127.0.0.1:3000"]` under `[gateway]`.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ocrgate.middleware import FixedHeaders

WEB_DIR = Path(__file__).resolve().parent / "web"
API_META = '<meta name="ocrgate-api" content="">'


def web_csp(api_url: str = "") -> str:
    """The web client's policy: its own scripts and styles only, pictures also from data: URIs;
    API calls to its own origin plus, in standalone mode, the gateway's."""
    connect = " ".join(filter(None, ["'self'", api_url]))
    return (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        f"connect-src {connect}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    )


def create_web_app(api_url: str) -> Starlette:
    """Serve `web/` with the gateway's address written into index.html (its icon also at `/favicon.ico`)."""
    api_url = api_url.rstrip("/")
    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    html = html.replace(API_META, f'<meta name="ocrgate-api" content="{api_url}">')
    headers = {"Content-Security-Policy": web_csp(api_url), "X-Content-Type-Options": "nosniff"}

    async def index(_request: Request) -> Response:
        return HTMLResponse(html)

    async def favicon(_request: Request) -> Response:
        return FileResponse(WEB_DIR / "favicon.svg", media_type="image/svg+xml")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/favicon.ico", favicon),
            Mount("/static", StaticFiles(directory=WEB_DIR), name="static"),
        ],
        middleware=[Middleware(FixedHeaders, headers=headers)],
    )
