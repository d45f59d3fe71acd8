"""Settings from a TOML file and OCRGATE_* environment variables (env wins over the file)."""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ocrgate.batching import DEFAULT_BATCH_WAIT_MS
from ocrgate.heap import MMAP_THRESHOLD_MAX

CONFIG_ENV = "OCRGATE_CONFIG"


class Limits(BaseModel):
    """What one upload may weigh and hold; every value is checked before the expensive step."""

    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_page_pixels: int = Field(default=40_000_000, gt=0, description="checked before decoding")
    max_pages: int = Field(default=500, gt=0)
    pdf_dpi: int = Field(default=144, ge=36, le=600)
    pdf_min_long_side: int = Field(
        default=1200,
        ge=0,
        le=20_000,
        description="pixels: without a dpi asked for, a PDF page whose longer side would have fewer at "
        "pdf_dpi is rasterised at the dpi that gives it this many (at most 600); 0: off",
    )
    page_timeout_s: float = Field(default=120.0, gt=0)
    body_idle_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="seconds a request's body may go without a byte before it is answered 408 "
        "`request_timeout` (a client that stopped sending would otherwise hold its request open)",
    )
    body_min_rate_bytes_s: float = Field(
        default=500.0,
        ge=0,
        description="bytes per second a request's body must come at on average, after a first "
        "`body_idle_timeout_s` of grace (Apache's `mod_reqtimeout` MinRate), else 408 `request_timeout`: "
        "a body trickled a byte at a time cannot hold its request open; 0: no minimum",
    )
    header_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="seconds a connection has for a request's headers, from its opening or the request's "
        "first byte, before it is answered 408 `request_timeout` and closed (every server ocrgate runs)",
    )
    max_field_bytes: int = Field(
        default=1024 * 1024, gt=0, description="a form field other than the file (options, prompt...)"
    )
    max_options_bytes: int = Field(
        default=16 * 1024,
        gt=0,
        description="the `options` JSON, the prompt included (they travel to the worker in its URL)",
    )
    max_options_depth: int = Field(default=32, gt=0, description="nesting of arrays and objects in `options`")
    boxes_embed_max_bytes: int = Field(
        default=1024 * 1024,
        ge=0,
        description="bytes: an uploaded PNG, JPEG or WebP up to this size is the boxes picture's page "
        "itself (no decoding, no re-encoding); a larger one, and every other page, gets a JPEG preview",
    )


class ModelServerConfig(BaseModel):
    """A backend's own model server (vLLM, mineru-api...) that the launcher starts before its workers.

    It runs with the backend's GPU pinned and, usually, from the backend's own virtualenv; the
    workers reach it at `url` (given to the backend as the `url` setting unless that is set).
    """

    command: list[str] = Field(
        min_length=1, description="argv; `{host}`, `{port}` and `{python}` are filled in"
    )
    host: str = "127.0.0.1"
    port: int = Field(gt=0, lt=65536)
    health_path: str = Field(default="/health", description="answers 200 once the model is served")
    start_timeout_s: float = Field(default=900.0, gt=0, description="model loading can take minutes")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment for the server")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def argv(self, python: str) -> list[str]:
        values = {"host": self.host, "port": str(self.port), "python": python}
        return [part.format(**values) for part in self.command]


class RayBackendConfig(BaseModel):
    """How `ocrgate serve --engine ray` places this backend's replicas (Ray Serve deployment options)."""

    num_gpus: float | None = Field(
        default=None, ge=0, description="GPUs per replica; default 1 when the backend names a gpu, else 0"
    )
    num_cpus: float = Field(default=1.0, ge=0)
    resources: dict[str, float] = Field(default_factory=dict, description="custom Ray resources per replica")
    autoscaling: dict[str, Any] | None = Field(
        default=None,
        description="Serve autoscaling_config (min_replicas, max_replicas, ...); else `replicas`",
    )
    runtime_env: dict[str, Any] | None = Field(
        default=None, description="Ray runtime_env; default: the backend's `python` as py_executable"
    )


class BackendConfig(BaseModel):
    """One backend: where its workers listen, which GPU and python they get, how much they take."""

    enabled: bool = True
    class_path: str | None = Field(
        default=None, description="`module:Class` of a backend that is not installed as an entry point"
    )
    port: int | None = Field(default=None, description="first worker port; replicas take the next ones")
    host: str = "127.0.0.1"
    gpu: str | None = Field(default=None, description="CUDA_VISIBLE_DEVICES for the worker; none = CPU")
    gpus: list[str] | None = Field(default=None, description="one GPU per replica, overrides `gpu`")
    python: str | None = Field(default=None, description="python of the backend's own virtualenv")
    replicas: int = Field(default=1, ge=1)
    urls: list[str] = Field(default_factory=list, description="workers already running elsewhere")
    concurrency: int = Field(default=1, ge=1, description="pages in flight per worker")
    batch_wait_ms: float = Field(
        default=DEFAULT_BATCH_WAIT_MS, ge=0, le=1000, description="how long a batch waits for more pages"
    )
    queue_size: int = Field(default=16, ge=0, description="pages waiting per worker before 429")
    options: dict[str, Any] = Field(default_factory=dict, description="engine settings for the worker")
    server: ModelServerConfig | None = Field(
        default=None, description="a model server the launcher starts for this backend"
    )
    ray: RayBackendConfig = Field(default_factory=RayBackendConfig)

    def engine_settings(self) -> dict[str, Any]:
        """The worker's engine settings: `options`, plus the model server's URL when there is one."""
        settings = dict(self.options)
        if self.server is not None:
            settings.setdefault("url", self.server.url)
        return settings


def _default_backends() -> dict[str, BackendConfig]:
    return {"rapidocr": BackendConfig(port=5002), "tesseract": BackendConfig(port=5003)}


class GatewayConfig(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    api_keys: list[str] = Field(default_factory=list, description="empty = no authentication")
    cors_origins: list[str] = Field(
        default_factory=list, description="origins of a web client served elsewhere (`ocrgate web`)"
    )
    worker_secret: str | None = Field(default=None, description="shared secret gateway -> workers")
    access_log: bool = Field(
        default=False,
        description="one log line per answer (`ocrgate.access`: client, method, path, status, "
        "milliseconds to the answer's start, request id); off, refused requests leave only metrics",
    )
    job_ttl_s: float = Field(default=7 * 24 * 3600, gt=0, description="how long job results are kept")
    page_retries: int = Field(default=2, ge=0, description="retries of a page on another worker")
    job_concurrency: int = Field(
        default=4, ge=1, description="job pages in flight at least (more when the workers take more at once)"
    )
    fetch_url_prefixes: list[str] = Field(
        default_factory=list,
        description="http(s) URL prefixes a JSON request's document_url/image_url may name "
        "(e.g. https://files.example.com/scans/); empty = remote URLs refused, only data: URLs",
    )
    fetch_timeout_s: float = Field(default=30.0, gt=0, description="the whole fetch of one document URL")
    page_stuck_s: float | None = Field(
        default=None,
        gt=0,
        description="a job page `running` this long is failed (one attempt counted) and retried by the "
        "watchdog; default (page_retries + 1) x (limits.page_timeout_s + 60) + 60 seconds",
    )
    shutdown_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="on SIGTERM / Ctrl-C, how long requests in flight may take to finish (seconds); "
        "one still running then is answered 503 `shutting_down`",
    )
    malloc_mmap_threshold_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=0,
        le=MMAP_THRESHOLD_MAX,
        description="glibc: a block at least this large is mapped for itself and unmapped when freed; "
        "smaller ones reuse the heap (`ocrgate.heap`; 0 = glibc's own policy, 128 KiB and rising)",
    )
    malloc_trim_threshold_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=0,
        le=2**31 - 1,
        description="glibc: free memory at the heap's top kept for the next requests, up to this many "
        "bytes, before it goes back to the system (0 = glibc's own policy)",
    )
    job_store: Literal["sqlite", "postgres"] = Field(
        default="sqlite", description="sqlite: one gateway (data_dir); postgres: gateways sharing jobs"
    )
    database_url: str | None = Field(
        default=None, description="libpq URL of the postgres job store, postgresql://user@host:5432/ocrgate"
    )

    @field_validator("fetch_url_prefixes")
    @classmethod
    def _http_prefixes(cls, prefixes: list[str]) -> list[str]:
        for prefix in prefixes:
            parts = urlsplit(prefix)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"fetch_url_prefixes: {prefix!r} is not an http(s) URL with a host")
        return prefixes

    @model_validator(mode="after")
    def _postgres_needs_a_url(self) -> GatewayConfig:
        if self.job_store == "postgres" and not self.database_url:
            raise ValueError('job_store = "postgres" needs database_url (postgresql://user@host/db)')
        return self


class RayConfig(BaseModel):
    """`ocrgate serve --engine ray`: where the Ray cluster is; Serve's HTTP port is the gateway's."""

    address: str | None = Field(
        default=None, description="`auto`, ray://host:10001 or host:6379; none: local"
    )
    namespace: str = "ocrgate"
    gateway_replicas: int = Field(default=1, ge=1, description="more than 1 needs the PostgreSQL job store")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OCRGATE_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    default_backend: str = "rapidocr"
    limits: Limits = Field(default_factory=Limits)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    backends: dict[str, BackendConfig] = Field(default_factory=_default_backends)
    ray: RayConfig = Field(default_factory=RayConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_file.get() or os.environ.get(CONFIG_ENV)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(path)))
        return tuple(sources)


#: the config file `load_settings` was given, for the settings sources (never the process environment,
#: so one call leaves no file behind for the next `Settings()` of the process)
_config_file: ContextVar[str | None] = ContextVar("ocrgate_config_file", default=None)


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from `path` (or $OCRGATE_CONFIG) plus the environment; FileNotFoundError when `path`
    is not a file."""
    if path is None:
        return Settings()
    if not Path(path).is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    token = _config_file.set(str(Path(path).resolve()))
    try:
        return Settings()
    finally:
        _config_file.reset(token)
