"""What the gateway serves and how it is: backends (with their option schemas), limits, health, metrics."""

from __future__ import annotations

import os
import time
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ocrgate import __version__
from ocrgate.config import Limits
from ocrgate.environment import CHECKS, EnvironmentCheck, config_checks, missing
from ocrgate.gateway.pool import BackendPool
from ocrgate.gateway.state import Gateway, GatewayDep, OwnerDep
from ocrgate.wire import WorkerInfo

router = APIRouter(tags=["backends"])


class BackendEnvironment(BaseModel):
    """Whether a backend's environment is present: the config's checks (made by the gateway) and what
    its first worker that answered checked in its own python."""

    present: bool
    reason: str | None = Field(default=None, description="the failed checks in one line")
    checks: list[EnvironmentCheck]


class BackendInfo(BaseModel):
    """One configured backend as `GET /v1/backends` shows it."""

    name: str
    default: bool = Field(
        default=False, description="whether it is the configured `default_backend` (used when none is named)"
    )
    healthy: bool
    environment: BackendEnvironment
    workers: list[dict[str, Any]]
    queue_depth: int
    capacity: int
    info: WorkerInfo | None = Field(
        default=None,
        description="what its workers say about it (`GET /v1/info`): version, the JSON Schema of its "
        "options, the file types it reads whole, batch size and limits; null until one has answered",
    )


def _gauges(gw: Gateway) -> None:
    for name, pool in gw.router.pools.items():
        gw.metrics.queue_depth.labels(name).set(pool.pending)
        gw.metrics.healthy_workers.labels(name).set(len(pool.healthy))


def _environment(pool: BackendPool) -> BackendEnvironment:
    checks = config_checks(pool.config)
    answered = [r.health for r in pool.replicas if r.health and "environment" in r.health]
    if answered:
        checks += CHECKS.validate_python(answered[0]["environment"])
    else:
        detail = (
            "; ".join(sorted({r.last_error for r in pool.replicas if r.last_error})) or "none answered yet"
        )
        checks.append(EnvironmentCheck(what="workers", ok=False, detail=detail))
    reason = missing(checks)
    return BackendEnvironment(present=reason is None, reason=reason, checks=checks)


@router.get("/v1/backends", response_model=list[BackendInfo])
def backends(gw: GatewayDep, _owner: OwnerDep) -> list[BackendInfo]:
    """Every configured backend: health, workers, queue, and its self-description."""
    _gauges(gw)
    return [
        BackendInfo(
            name=name,
            default=name == gw.settings.default_backend,
            healthy=bool(pool.healthy),
            environment=_environment(pool),
            workers=[
                {
                    "url": r.url,
                    "healthy": r.healthy,
                    "load": r.load,
                    "error": r.last_error,
                    "health": r.health,
                }
                for r in pool.replicas
            ],
            queue_depth=pool.pending,
            capacity=pool.capacity,
            info=pool.info,
        )
        for name, pool in gw.router.pools.items()
    ]


@router.get("/v1/limits", response_model=Limits)
def get_limits(gw: GatewayDep, _owner: OwnerDep) -> Limits:
    """What one upload may weigh and hold (the web client shows these before upload); like every
    `/v1` route, it needs a key where the gateway has API keys."""
    return gw.settings.limits


class Health(BaseModel):
    """`GET /health`: 200 while healthy or degraded, 503 while unhealthy (for `curl -f`, load balancers)."""

    status: Literal["healthy", "degraded", "unhealthy"] = Field(
        description="healthy: every backend has a healthy worker; degraded: some do; unhealthy: none does"
    )
    backends: dict[str, bool] = Field(description="backend -> whether it has a healthy worker")
    version: str
    timestamp: float = Field(description="Unix seconds")
    pid: int = Field(description="the gateway's process id")


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "unhealthy: no backend has a healthy worker"}},
)
def health(gw: GatewayDep, response: Response) -> Health:
    """`healthy` when every backend has a healthy worker, `degraded` when some do, else `unhealthy`
    (answered with 503, so `curl -f`, load balancers and container health checks see it)."""
    states = {name: bool(pool.healthy) for name, pool in gw.router.pools.items()}
    status: Literal["healthy", "degraded", "unhealthy"] = (
        "healthy"
        if states and all(states.values())
        else ("degraded" if any(states.values()) else "unhealthy")
    )
    if status == "unhealthy":
        response.status_code = 503
    return Health(status=status, backends=states, version=__version__, timestamp=time.time(), pid=os.getpid())


@router.get("/metrics")
def prometheus(gw: GatewayDep) -> Response:
    """Prometheus text format: requests, latency, pages, errors, queue depth, healthy workers."""
    _gauges(gw)
    return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4")
