"""The gateway application: its shared state, middleware and routers, started and stopped together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from ocrgate import __version__
from ocrgate.backends import registry
from ocrgate.config import Settings
from ocrgate.gateway.auth import APIKeys
from ocrgate.gateway.metrics import Metrics
from ocrgate.gateway.middleware import GatewayMiddleware, access_line
from ocrgate.gateway.openapi import install_docs, install_openapi
from ocrgate.gateway.routes import backends, job_pages, jobs, mistral, ocr, scorecards, web
from ocrgate.gateway.routes.direct import DirectPaths, mount_first
from ocrgate.gateway.routing import Router
from ocrgate.gateway.state import Gateway
from ocrgate.http_errors import REQUEST_ID_HEADER, install_error_handlers
from ocrgate.jobs import open_store
from ocrgate.jobs.runner import JobRunner
from ocrgate.middleware import FixedHeaderSet, fastapi_telemetry
from ocrgate.web_server import web_csp

# answers that are not the web client's pages (`/docs` has a policy of its own: `openapi.docs_csp`)
API_PATHS = ("/v1/", "/docs", "/openapi.json")


def create_gateway_app(settings: Settings) -> FastAPI:
    """The gateway for `settings`: routes, workers' pools, the job store and its runner."""
    registry.configure(settings.backends)
    router = Router(settings)
    store = open_store(settings.gateway)
    gw = Gateway(
        settings=settings,
        router=router,
        store=store,
        runner=JobRunner(store, router, settings),
        metrics=Metrics(),
        auth=APIKeys(settings.gateway.api_keys),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await router.start()
        await gw.runner.start()
        yield
        await gw.runner.close()
        await router.close()
        store.close()

    app = FastAPI(
        title="ocrgate",
        version=__version__,
        description="One gateway in front of several OCR engines.",
        lifespan=lifespan,
        docs_url=None,  # install_docs serves it without a CDN
        redoc_url=None,
        telemetry=fastapi_telemetry(),
    )
    app.state.gateway = gw
    install_error_handlers(app)
    _middleware(app, gw)
    mount_first(app, ocr.router)  # the small-page path: matched first, no dependencies solved
    for module in (jobs, job_pages, scorecards, backends):
        app.include_router(module.router)
    web.mount_web(app)
    install_openapi(app, router, body_models=mistral.JSON_MODELS)
    install_docs(app)
    return app


def _middleware(app: FastAPI, gw: Gateway) -> None:
    """The gateway's one middleware layer (`gateway.middleware`): the request id (so every answer, the
    413 body too, carries it), every answer counted, the fixed headers, CORS (so even a 413 or a 500
    is readable cross-origin), 503 to what the gateway's stop refused or cut (`gateway.shutdown`), a
    500 for what the app raised unexpectedly, oversized bodies cut off; in that order, outermost first."""
    cors = None
    if gw.settings.gateway.cors_origins:
        cors = {
            "allow_origins": gw.settings.gateway.cors_origins,
            "allow_methods": ["GET", "POST", "PUT", "DELETE"],
            "allow_headers": ["X-API-Key", "Authorization", "Content-Type", REQUEST_ID_HEADER],
            "expose_headers": ["Retry-After", "Content-Disposition", REQUEST_ID_HEADER],
        }
    fixed = FixedHeaderSet(
        headers={"X-Content-Type-Options": "nosniff"},
        page_headers={"Content-Security-Policy": web_csp()},
        api_prefixes=API_PATHS,
    )
    # inside the gateway's layer: its request id, counting, limits and stop apply to these routes too
    app.add_middleware(DirectPaths, routes=ocr.router.routes, handlers=app.exception_handlers)
    app.add_middleware(
        GatewayMiddleware,
        limits=gw.settings.limits,
        drain=gw.drain,
        count=gw.metrics.count_answer,
        fixed=fixed,
        cors=cors,
        access=access_line if gw.settings.gateway.access_log else None,
    )
