"""`ocrgate serve --engine ray`: deploy every backend and the gateway on a Ray cluster, then wait.

With `[ray] address` unset a local Ray is started (all of this machine); `address = "auto"` joins
the cluster this machine belongs to (`ray start --head` / `ray start --address=...`). Serve's HTTP
proxy listens on the gateway's host and port on every node. Ctrl-C / SIGTERM deletes the
applications (and stops the local Ray this command started).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import ray
from ray import serve

from ocrgate.config import Settings
from ocrgate.ray_serve.apps import applications

log = logging.getLogger("ocrgate.ray")


def serve_on_ray(settings: Settings, config_path: str | None) -> None:
    address = settings.ray.address or os.environ.get("RAY_ADDRESS")
    ray.init(address=address, namespace=settings.ray.namespace, log_to_driver=False)
    gateway = settings.gateway
    serve.start(http_options={"host": gateway.host, "port": gateway.port}, proxy_location="EveryNode")
    apps = applications(settings, gateway.port)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for app in apps:
            log.info("deploying %s at %s", app.name, app.route_prefix)
            serve.run(app.app, name=app.name, route_prefix=app.route_prefix, blocking=False)
        log.info("gateway on http://%s:%d (Ray Serve; config %s)", gateway.host, gateway.port, config_path)
        stop.wait()
    finally:
        for app in reversed(apps):
            serve.delete(app.name)
        if not address:
            serve.shutdown()
            ray.shutdown()
