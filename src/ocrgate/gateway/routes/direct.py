"""Routes FastAPI documents like any other but runs with the least framework work per request.

`DirectRoute` is an `APIRoute` whose endpoint takes the `Request` and returns the `Response` itself:
its OpenAPI entry comes from the route's declaration as usual (`response_model`, `responses`,
`openapi_extra`), but no dependency is solved and no returned value validated or serialised on the
way out. `mount_first` puts such a router's routes first in the app's own route list, so a request
for them is matched before any other route and without walking FastAPI's included routers.

Together about 23 us of CPU per request less than a plain included `APIRoute` in a tight loop (a
trivial endpoint, in-process ASGI calls), several times that in a loaded server (py-spy,
`bench/profile_gateway.py`): `POST /v1/ocr` is the small-page path of issue 18.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute


class DirectRoute(APIRoute):
    """An `APIRoute` that calls its endpoint with the request and sends back the `Response` it returns.

    The endpoint must be `async def endpoint(request: Request) -> Response`; it reads its own
    parameters and body, and raises `ocrgate.errors` (answered by the app's exception handlers) for
    bad input.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint


def mount_first(app: FastAPI, router: APIRouter) -> None:
    """Puts `router`'s routes (`DirectRoute`s) at the head of `app`'s own route list, so that they are
    matched first, and documented in `/openapi.json` like routes added with `include_router`."""
    for route in router.routes:
        if not isinstance(route, DirectRoute):
            raise TypeError(f"{route!r} is not a DirectRoute")
    app.router.routes[:0] = router.routes
