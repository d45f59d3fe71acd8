"""Routes FastAPI documents like any other but runs with the least framework work per request.

`DirectRoute` is an `APIRoute` whose endpoint takes the `Request` and returns the `Response` itself:
its OpenAPI entry comes from the route's declaration as usual (`response_model`, `responses`,
`openapi_extra`), but no dependency is solved and no returned value validated or serialised on the
way out. `DirectPaths`, a middleware inside the gateway's own, sends a request for such a route's
exact path and method straight to its endpoint, past FastAPI's and Starlette's routing layers (the
exit stack, the router, the route's two request wrappers); `mount_first` also puts the routes first
in the app's route list, where the router finds them for any request `DirectPaths` passes on (one
under a `root_path`).

In the running gateway the layers between its middleware and the endpoint held 8 % of its CPU time
for the small page (py-spy, `bench/profile_gateway.py`, 2 cores), the response's sending included;
`DirectPaths` took 3 % off it (two gateways side by side, `bench/side_by_side.py`). `POST /v1/ocr` is
the small-page path of issue 18.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


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


class DirectPaths:
    """ASGI middleware: an HTTP request whose method and path (no `root_path`) are those of one of
    `routes` is answered by that route's endpoint, its exceptions by the app's handlers (`handlers`:
    the app's `exception_handlers`, those for 500 and `Exception` left to the layers outside, as
    FastAPI leaves them); any other request goes on to `app`. `scope["route"]` names the route, as
    the router would."""

    def __init__(self, app: ASGIApp, routes: Iterable[DirectRoute], handlers: Mapping[Any, Any]) -> None:
        self.app = app
        self.routes = {(method, route.path): route for route in routes for method in route.methods}
        expected = {key: value for key, value in handlers.items() if key not in (500, Exception)}
        self.answer = ExceptionMiddleware(self._endpoint, handlers=expected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self.routes.get((scope["method"], scope["path"]))
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, {}
        await self.answer(scope, receive, send)

    @staticmethod
    async def _endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        response = await scope["endpoint"](Request(scope, receive, send))
        await response(scope, receive, send)
