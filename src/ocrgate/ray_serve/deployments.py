"""The two kinds of Serve deployment: a backend's worker and the gateway, each the same FastAPI app
that `ocrgate serve` runs as a process, built inside the replica (after Ray has pinned its GPUs).

A backend deployment is its own Serve application under `/_workers/NAME`; Serve's proxy spreads
requests over its replicas. The gateway deployment is the ingress at `/`: its router sees each
backend as one URL (the Serve route) with the capacity of all its replicas.
"""

from __future__ import annotations

from typing import Any

from ray import serve

from ocrgate.config import BackendConfig, Settings

WORKERS_PREFIX = "/_workers"


def worker_route(name: str) -> str:
    return f"{WORKERS_PREFIX}/{name}"


def replica_bound(config: BackendConfig) -> int:
    """The most replicas a backend may have at once."""
    if config.ray.autoscaling:
        return int(config.ray.autoscaling.get("max_replicas", config.replicas))
    return config.replicas


def gateway_view(settings: Settings, http_port: int) -> Settings:
    """The settings the gateway replica runs with: every backend reached through its Serve route."""
    view = settings.model_copy(deep=True)
    for name, config in view.backends.items():
        replicas = replica_bound(config)
        config.urls = [f"http://127.0.0.1:{http_port}{worker_route(name)}"]
        config.concurrency *= replicas
        config.queue_size *= replicas
        config.server = None
    return view


@serve.ingress()
class WorkerDeployment:
    """One replica of a backend: the worker app around a backend created here, GPUs already set."""

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        import ray

        from ocrgate.backends import registry
        from ocrgate.devices import pin_gpu
        from ocrgate.worker import create_worker_app

        if not ray.get_gpu_ids():
            pin_gpu("")  # Ray leaves CUDA_VISIBLE_DEVICES alone without GPUs: a CPU replica sees none

        loaded = Settings.model_validate(settings)
        registry.configure(loaded.backends)
        config = loaded.backends[name]
        backend = registry.create(name, config.engine_settings())
        self.asgi = create_worker_app(
            backend, loaded.limits, loaded.gateway.worker_secret, config.concurrency, config.batch_wait_ms
        )

    def __serve_build_asgi_app__(self) -> Any:
        return self.asgi


@serve.ingress()
class GatewayDeployment:
    """A gateway replica: the same routes, schema, jobs and web client as `ocrgate gateway`, and the same
    heap policy for large buffers (`ocrgate.heap`), set in the replica's own process."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from ocrgate.backends import registry
        from ocrgate.gateway.app import create_gateway_app
        from ocrgate.heap import keep_large_buffers

        loaded = Settings.model_validate(settings)
        registry.configure(loaded.backends)
        gateway = loaded.gateway
        keep_large_buffers(gateway.malloc_mmap_threshold_bytes, gateway.malloc_trim_threshold_bytes)
        self.asgi = create_gateway_app(loaded)

    def __serve_build_asgi_app__(self) -> Any:
        return self.asgi
