"""What every route of one gateway shares, and the FastAPI dependencies that hand it out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from ocrgate.config import Settings
from ocrgate.gateway.auth import APIKeys
from ocrgate.gateway.metrics import Metrics
from ocrgate.gateway.routing import Router
from ocrgate.gateway.shutdown import Drain
from ocrgate.jobs import JobStore
from ocrgate.jobs.runner import JobRunner


@dataclass
class Gateway:
    settings: Settings
    router: Router
    store: JobStore
    runner: JobRunner
    metrics: Metrics
    auth: APIKeys
    #: the server's stop, once it has begun (`gateway.shutdown`)
    drain: Drain = field(default_factory=Drain)

    def backends_named(self, value: str | None) -> list[str]:
        """The backends a request names (one, a comma list or `all`; None: the configured default),
        checked (`Router.parse`)."""
        return self.router.parse(value, self.settings.default_backend)


# Both dependencies are `async def` though they never wait: FastAPI runs a plain `def` dependency in its
# thread pool, and two thread hand-offs cost each request more than these few lookups do.


async def gateway(request: Request) -> Gateway:
    """FastAPI dependency: this app's gateway."""
    return request.app.state.gateway


async def owner(request: Request, gw: Annotated[Gateway, Depends(gateway)]) -> str | None:
    """FastAPI dependency: the caller's owner id (API keys, compared in constant time), None when
    authentication is off."""
    return gw.auth(request)


GatewayDep = Annotated[Gateway, Depends(gateway)]
OwnerDep = Annotated[str | None, Depends(owner)]
