"""How a batch reads one document: a backend in this process, or a running gateway (`--via`).

`Plan` says what every file gets; it is sent once to each worker process of a parallel run, which
makes its own reader from it (`make_reader`): an in-process backend is an object of that process
(its model loaded on the first file), a gateway reader is an HTTP client. `check` validates the
plan once, before any file is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from ocrgate.backends import registry
from ocrgate.backends.base import Backend
from ocrgate.client import OCRGateClient
from ocrgate.config import Limits
from ocrgate.documents import Document
from ocrgate.errors import BackendUnavailable, Busy, InvalidRequest
from ocrgate.inprocess import recognize
from ocrgate.render import BoxesMode
from ocrgate.schema import OCRResponse, TextLayerMode

#: how long one request to a gateway may take (a long PDF is one request)
VIA_TIMEOUT_S = 3600.0
#: how often a request the gateway refused as busy (429) is tried again, after its Retry-After
BUSY_RETRIES = 30


@dataclass(frozen=True)
class Plan:
    """What every file of a batch gets: formats, where they go, and how it is read."""

    formats: tuple[str, ...]
    out: Path | None
    limits: Limits
    backend: str = ""  # "" with `via`: the gateway's default
    engine_settings: dict[str, Any] = field(default_factory=dict)
    class_paths: dict[str, str] = field(default_factory=dict)  # backends named by `class_path`
    options: dict[str, Any] = field(default_factory=dict)
    boxes: BoxesMode = "none"
    images: bool = False  # keep source_markdown (figures as data URIs) in the JSON
    dpi: int | None = None
    text_layer: TextLayerMode = "auto"
    via: str | None = None
    api_key: str | None = None
    compact: bool = False  # JSON on stdout one line per file


OnPage = Callable[[], None]


class Reader(Protocol):
    def read(self, document: Document, on_page: OnPage, decode_seconds: float) -> OCRResponse: ...

    def close(self) -> None: ...


class LocalReader:
    """The plan's backend in this process (loaded on first use)."""

    def __init__(self, plan: Plan, backend: Backend | None = None) -> None:
        for name, target in plan.class_paths.items():
            registry.register_target(name, target)
        self.plan = plan
        self.backend = backend or registry.create(plan.backend, plan.engine_settings)

    def read(self, document: Document, on_page: OnPage, decode_seconds: float) -> OCRResponse:
        return recognize(
            document,
            self.backend,
            self.plan.options,
            self.plan.boxes,
            decode_seconds=decode_seconds,
            on_page=lambda _backend, _index: on_page(),
            text_layer=self.plan.text_layer,
        )

    def close(self) -> None:
        self.backend.close()


class GatewayReader:
    """`POST /v1/ocr` of a running gateway; a busy answer (429) is tried again after its Retry-After."""

    def __init__(self, plan: Plan) -> None:
        assert plan.via
        self.plan = plan
        self.client = OCRGateClient(plan.via, plan.api_key, timeout=VIA_TIMEOUT_S)

    def read(self, document: Document, on_page: OnPage, decode_seconds: float) -> OCRResponse:
        plan = self.plan
        for attempt in range(BUSY_RETRIES + 1):
            try:
                response = self.client.ocr(
                    document.data,
                    plan.backend or None,
                    options=plan.options,
                    boxes=plan.boxes,
                    dpi=plan.dpi,
                    text_layer=plan.text_layer,
                    filename=document.name,
                )
            except Busy as exc:
                if attempt == BUSY_RETRIES:
                    raise
                time.sleep(min(30, max(1, exc.retry_after)))
                continue
            except httpx.HTTPError as exc:
                raise BackendUnavailable(f"the gateway at {plan.via} did not answer: {exc}") from exc
            for _ in response.pages:
                on_page()
            return response
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.client.close()


def make_reader(plan: Plan) -> Reader:
    return GatewayReader(plan) if plan.via else LocalReader(plan)


def check(plan: Plan) -> Backend | None:
    """Validate `plan` once: options, backend, and that it can run. Returns the in-process backend
    (not loaded), None with `via`. Raises the typed error a file would get otherwise, and
    InvalidRequest for several backends (a comparison), which a batch does not write."""
    if plan.backend == "all" or "," in plan.backend:
        raise InvalidRequest(
            f"ocrgate ocr reads with one backend; {plan.backend!r} names a comparison: compare engines"
            " with `ocrgate eval`, the web client's Compare view or POST /v1/ocr with several backends"
        )
    if plan.via:
        _check_gateway(plan)
        return None
    for name, target in plan.class_paths.items():
        registry.register_target(name, target)
    backend = registry.create(plan.backend, plan.engine_settings)
    backend.parse_options(plan.options)
    reason = backend.unavailable()
    if reason:
        raise BackendUnavailable(f"backend {plan.backend!r} is not available: {reason}")
    return backend


def _check_gateway(plan: Plan) -> None:
    assert plan.via
    with OCRGateClient(plan.via, plan.api_key, timeout=30) as client:
        try:
            client.check(plan.backend or None, plan.options)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"cannot reach the gateway at {plan.via}: {exc}") from exc
