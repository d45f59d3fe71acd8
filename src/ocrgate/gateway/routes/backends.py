"""What the gateway serves and how it is: backends (with their option schemas), limits, health, metrics."""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ocrgate import __version__
from ocrgate.config import Limits
from ocrgate.gateway.state import Gateway, GatewayDep, OwnerDep
from ocrgate.wire import WorkerInfo

router = APIRouter(tags=["backends"])


class BackendInfo(BaseModel):
    """One configured backend as `GET /v1/backends` shows it."""

    name: str
    default: bool = Field(
        default=False, description="whether it is the configured `default_backend` (used when none is named)"
    )
    healthy: bool
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


@router.get("/v1/backends", response_model=list[BackendInfo])
def backends(gw: GatewayDep, _owner: OwnerDep) -> list[BackendInfo]:
    """Every configured backend: health, workers, queue, and its self-description."""
    _gauges(gw)
    return [
        BackendInfo(
            name=name,
            default=name == gw.settings.default_backend,
            healthy=bool(pool.healthy),
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
def get_limits(gw: GatewayDep) -> Limits:
    """What one upload may weigh and hold (the web client shows these before upload)."""
    return gw.settings.limits


@router.get("/health")
def health(gw: GatewayDep) -> dict[str, Any]:
    """`healthy` when every backend has a healthy worker, `degraded` when some do, else `unhealthy`."""
    states = {name: bool(pool.healthy) for name, pool in gw.router.pools.items()}
    status = (
        "healthy"
        if states and all(states.values())
        else ("degraded" if any(states.values()) else "unhealthy")
    )
    return {
        "status": status,
        "backends": states,
        "version": __version__,
        "timestamp": time.time(),
        "pid": os.getpid(),
    }


@router.get("/metrics")
def prometheus(gw: GatewayDep) -> Response:
    """Prometheus text format: requests, latency, pages, errors, queue depth, healthy workers."""
    _gauges(gw)
    return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4")
