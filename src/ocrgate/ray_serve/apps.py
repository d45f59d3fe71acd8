"""Serve applications from an ocrgate config: one per backend plus the gateway.

`ocrgate serve --engine ray` runs them; `deploy/ray/serve.yaml` names the same builders
(`worker_app`, `gateway_app`) for `serve deploy`, so both read the one TOML config file.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import yaml
from ray import serve
from ray.serve import Application

from ocrgate.config import BackendConfig, Settings, load_settings
from ocrgate.ray_serve.deployments import GatewayDeployment, WorkerDeployment, gateway_view, worker_route


@dataclass
class App:
    name: str
    route_prefix: str
    app: Application


def actor_options(config: BackendConfig) -> dict[str, Any]:
    """Ray resources and environment of one replica: its GPUs, CPUs and the backend's virtualenv."""
    ray = config.ray
    num_gpus = ray.num_gpus if ray.num_gpus is not None else (1.0 if (config.gpu or config.gpus) else 0.0)
    options: dict[str, Any] = {"num_gpus": num_gpus, "num_cpus": ray.num_cpus}
    if ray.resources:
        options["resources"] = dict(ray.resources)
    runtime_env = (
        ray.runtime_env
        if ray.runtime_env is not None
        else ({"py_executable": config.python} if config.python else None)
    )
    if runtime_env:
        options["runtime_env"] = runtime_env
    return options


def with_secret(settings: Settings) -> Settings:
    """Workers share Serve's HTTP port with the gateway: without a configured secret, make one."""
    if settings.gateway.worker_secret:
        return settings
    shared = settings.model_copy(deep=True)
    shared.gateway.worker_secret = secrets.token_urlsafe(32)
    return shared


def backend_application(name: str, settings: Settings) -> App:
    config = settings.backends[name]
    scaling: dict[str, Any] = (
        {"autoscaling_config": config.ray.autoscaling}
        if config.ray.autoscaling
        else {"num_replicas": config.replicas}
    )
    deployment = serve.deployment(WorkerDeployment).options(
        name=f"worker-{name}",
        ray_actor_options=actor_options(config),
        max_ongoing_requests=config.concurrency + config.queue_size,
        health_check_period_s=5,
        **scaling,
    )
    data = settings.model_dump(mode="json")
    return App(f"worker-{name}", worker_route(name), deployment.bind(name, data))


def gateway_application(settings: Settings, http_port: int) -> App:
    deployment = serve.deployment(GatewayDeployment).options(
        name="gateway",
        num_replicas=settings.ray.gateway_replicas,
        ray_actor_options={"num_cpus": 1},
        max_ongoing_requests=1000,
    )
    view = gateway_view(settings, http_port)
    return App("ocrgate", "/", deployment.bind(view.model_dump(mode="json")))


def applications(settings: Settings, http_port: int) -> list[App]:
    """Every enabled backend's application, then the gateway's (the ingress at `/`)."""
    shared = with_secret(settings)
    apps = [backend_application(n, shared) for n, c in shared.backends.items() if c.enabled]
    return [*apps, gateway_application(shared, http_port)]


# Builders for `serve deploy deploy/ray/serve.yaml` (args come from the YAML file).
def worker_app(args: dict[str, str]) -> Application:
    settings = load_settings(args["config"])
    settings.gateway.worker_secret = args.get("worker_secret") or settings.gateway.worker_secret
    return backend_application(args["backend"], settings).app


def gateway_app(args: dict[str, str]) -> Application:
    settings = load_settings(args["config"])
    settings.gateway.worker_secret = args.get("worker_secret") or settings.gateway.worker_secret
    return gateway_application(settings, int(args.get("http_port", settings.gateway.port))).app


def serve_config(settings: Settings, config_path: str) -> str:
    """A Serve config file (YAML) that deploys `config_path` the way `ocrgate serve --engine ray` does."""
    secret = settings.gateway.worker_secret or secrets.token_urlsafe(32)
    common = {"config": config_path, "worker_secret": secret}
    apps: list[dict[str, Any]] = [
        {
            "name": f"worker-{name}",
            "route_prefix": worker_route(name),
            "import_path": "ocrgate.ray_serve.apps:worker_app",
            "args": {**common, "backend": name},
        }
        for name, config in settings.backends.items()
        if config.enabled
    ]
    apps.append(
        {
            "name": "ocrgate",
            "route_prefix": "/",
            "import_path": "ocrgate.ray_serve.apps:gateway_app",
            "args": {**common, "http_port": settings.gateway.port},
        }
    )
    document = {
        "proxy_location": "EveryNode",
        "http_options": {"host": settings.gateway.host, "port": settings.gateway.port},
        "applications": apps,
    }
    return yaml.safe_dump(document, sort_keys=False)
