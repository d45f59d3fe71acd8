"""Command line: `ocrgate ocr | backends | serve | worker`."""

from __future__ import annotations

import base64
import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ocrgate.backends import registry
from ocrgate.config import Settings, load_settings
from ocrgate.documents import open_document
from ocrgate.environment import CHECKS, EnvironmentCheck, config_checks, missing, probe, runs_elsewhere
from ocrgate.errors import OCRGateError
from ocrgate.inprocess import recognize
from ocrgate.schema import OCRResponse

app = typer.Typer(help="ocrgate: one gateway in front of several OCR engines.", no_args_is_help=True)
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config file (default: $OCRGATE_CONFIG)")
]


class OutputFormat(StrEnum):
    json = "json"
    md = "md"


class BoxesChoice(StrEnum):
    all = "all"
    first = "first"
    none = "none"


def _settings(config: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except (FileNotFoundError, ValueError) as exc:
        _fail(f"bad configuration: {exc}")
    registry.configure(settings.backends)
    return settings


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _write_outputs(response: OCRResponse, out: Path, stem: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(response.model_dump_json(indent=2), encoding="utf-8")
    (out / f"{stem}.md").write_text(response.markdown + "\n", encoding="utf-8")
    if response.boxes_image:
        (out / f"{stem}.boxes.png").write_bytes(base64.b64decode(response.boxes_image))


@app.command()
def ocr(
    files: Annotated[list[Path], typer.Argument(help="images or PDFs", exists=False)],
    backend: Annotated[str, typer.Option("--backend", "-b", help="backend name")] = "",
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="json or md")] = OutputFormat.json,
    out: Annotated[Path | None, typer.Option(help="write NAME.json, NAME.md, NAME.boxes.png here")] = None,
    dpi: Annotated[int | None, typer.Option(help="PDF rasterising DPI", min=36, max=600)] = None,
    boxes: Annotated[BoxesChoice, typer.Option(help="boxes images for all, first or no pages")] = (
        BoxesChoice.all
    ),
    prompt: Annotated[str | None, typer.Option(help="prompt, for engines that take one")] = None,
    config: ConfigOption = None,
) -> None:
    """Recognise FILES in this process and print the unified JSON (or markdown), or write to --out."""
    settings = _settings(config)
    name = backend or settings.default_backend
    try:
        engine = registry.create(
            name, settings.backends[name].engine_settings() if name in settings.backends else {}
        )
        options = {"prompt": prompt} if prompt else {}
        engine.parse_options(options)  # a bad option fails once, before any file is read
        reason = engine.availability()
        if reason:
            _fail(f"backend {name!r} is not available: {reason}")
    except OCRGateError as exc:
        _fail(exc.message)
    failures = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        for path in files:
            task = progress.add_task(path.name, total=None)
            try:
                if not path.is_file():
                    raise OCRGateError(f"no such file: {path}")
                t0 = time.perf_counter()
                document = open_document(path.read_bytes(), path.name, settings.limits, dpi)
                decode = time.perf_counter() - t0
                progress.update(task, total=document.page_count)
                response = recognize(
                    document,
                    engine,
                    options,
                    boxes.value,
                    decode_seconds=decode,
                    on_page=lambda _b, _i, t=task: progress.advance(t),
                )
            except OCRGateError as exc:
                failures += 1
                err.print(f"[red]error:[/red] {path}: {exc.message}", highlight=False, soft_wrap=True)
                continue
            finally:
                progress.remove_task(task)
            for page in response.pages:
                reasons = [f.removeprefix("failed: ") for f in page.flags if f.startswith("failed: ")]
                if reasons:
                    failures += 1
                    err.print(
                        f"[red]error:[/red] {path}: page {page.index + 1}: {reasons[0]}",
                        highlight=False,
                        soft_wrap=True,
                    )
            if out is not None:
                _write_outputs(response, out, path.stem)
            elif fmt is OutputFormat.md:
                sys.stdout.write(response.markdown + "\n")
            else:
                indent = 2 if len(files) == 1 else None
                sys.stdout.write(response.model_dump_json(indent=indent) + "\n")
    if failures:
        raise typer.Exit(2)


def _environment(name: str, settings: Settings) -> tuple[list[EnvironmentCheck], str]:
    """Every check of backend `name` (the config's, then the backend's own, run in its python) and
    the python that ran the backend's own checks."""
    config = settings.backends.get(name)
    checks = config_checks(config) if config else []
    engine_settings = config.engine_settings() if config else {}
    if config and runs_elsewhere(config):
        assert config.python is not None
        if all(c.ok for c in checks if c.what == "python"):
            return checks + probe(config.python, name, engine_settings), config.python
        return checks, config.python
    try:
        checks += registry.create(name, engine_settings).environment()
    except Exception as exc:  # a third-party backend that fails to import is reported, not fatal
        checks.append(EnvironmentCheck(what="engine", ok=False, detail=f"cannot be imported: {exc}"))
    return checks, sys.executable


@app.command("backends")
def list_backends(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per backend")] = False,
) -> None:
    """List registered backends and whether each one's environment is present here: its python, its
    model server's command, its engine's packages and its model files, as configured."""
    settings = _settings(config)
    table = Table("backend", "available", "configured", "detail")
    for name in registry.names():
        checks, python = _environment(name, settings)
        reason = missing(checks)
        configured = name in settings.backends
        if as_json:
            row = {"backend": name, "available": reason is None, "configured": configured, "python": python}
            row["checks"] = [c.model_dump() for c in checks]
            sys.stdout.write(json.dumps(row) + "\n")
        else:
            table.add_row(name, "no" if reason else "yes", "yes" if configured else "no", reason or "")
    if not as_json:
        Console().print(table)


@app.command("probe-environment", hidden=True)
def probe_environment(
    backend: Annotated[str, typer.Option(help="backend name")],
    settings: Annotated[str, typer.Option(help="its engine settings, a JSON object")] = "{}",
) -> None:
    """`Backend.environment()` in this python, as one JSON line (`ocrgate backends` runs it in a
    backend's own virtualenv)."""
    try:
        checks = registry.create(backend, json.loads(settings)).environment()
    except Exception as exc:
        checks = [EnvironmentCheck(what="engine", ok=False, detail=f"cannot be imported: {exc}")]
    sys.stdout.write(CHECKS.dump_json(checks).decode() + "\n")


from ocrgate.evaluate.cli import eval_app  # noqa: E402

app.add_typer(eval_app, name="eval")


def _logging() -> None:
    import logging

    from rich.logging import RichHandler

    if err.is_terminal:
        handler: logging.Handler = RichHandler(console=err, show_path=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:  # a log file or a pipe: one record, one line (rich would wrap it at 80 columns)
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command()
def worker(
    backend: Annotated[str, typer.Option("--backend", "-b", help="the one backend this worker hosts")],
    port: Annotated[int, typer.Option(help="port to listen on")] = 5000,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    gpu: Annotated[
        str | None, typer.Option(help="CUDA_VISIBLE_DEVICES for this worker; empty = CPU (default: config)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Host one backend over HTTP (normally started by `ocrgate serve`)."""
    from ocrgate.devices import pin_gpu

    settings = _settings(config)
    backend_config = settings.backends.get(backend)
    pin_gpu(gpu if gpu is not None else (backend_config.gpu if backend_config else None))
    # only now, with the GPU pinned, may anything import an engine
    import uvicorn

    from ocrgate.batching import DEFAULT_BATCH_WAIT_MS
    from ocrgate.worker import create_worker_app

    try:
        engine = registry.create(backend, backend_config.engine_settings() if backend_config else {})
    except OCRGateError as exc:
        _fail(exc.message)
    concurrency = backend_config.concurrency if backend_config else 1
    _logging()
    wait_ms = backend_config.batch_wait_ms if backend_config else DEFAULT_BATCH_WAIT_MS
    worker_app = create_worker_app(
        engine, settings.limits, settings.gateway.worker_secret, concurrency, wait_ms
    )
    uvicorn.run(worker_app, host=host, port=port, log_level="warning")


@app.command()
def gateway(
    host: Annotated[str | None, typer.Option(help="address to bind (default: config, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: config, 8080)")] = None,
    config: ConfigOption = None,
) -> None:
    """Run the gateway alone, in front of workers that run elsewhere (see `serve` for everything)."""
    import uvicorn

    from ocrgate.gateway.app import create_gateway_app

    settings = _settings(config)
    _logging()
    uvicorn.run(
        create_gateway_app(settings),
        host=host or settings.gateway.host,
        port=port or settings.gateway.port,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


@app.command()
def web(
    api: Annotated[str, typer.Option(help="the gateway's URL")] = "http://127.0.0.1:8080",
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 3000,
) -> None:
    """Serve the web client on its own port, against a gateway elsewhere (which must allow the origin
    with `cors_origins`)."""
    import uvicorn

    from ocrgate.web_server import create_web_app

    uvicorn.run(create_web_app(api), host=host, port=port, log_level="warning")


class ServeEngine(StrEnum):
    local = "local"
    ray = "ray"


@app.command()
def serve(
    config: ConfigOption = None,
    engine: Annotated[
        ServeEngine, typer.Option(help="local: processes on this machine; ray: Ray Serve deployments")
    ] = ServeEngine.local,
    serve_config: Annotated[
        Path | None, typer.Option(help="with --engine ray: write the Serve config (YAML) here and exit")
    ] = None,
) -> None:
    """Start the workers and the gateway, restart crashed workers, stop all on Ctrl-C."""
    settings = _settings(config)
    config_path = str(config.resolve()) if config else None
    _logging()
    if engine is ServeEngine.ray:
        try:
            from ocrgate.ray_serve import apps, runner
        except ImportError as exc:
            _fail(f"--engine ray needs Ray Serve: pip install 'ocrgate[ray]' ({exc})")
        if serve_config is not None:
            if not config_path:
                _fail("--serve-config needs --config: replicas read the same TOML file")
            serve_config.write_text(apps.serve_config(settings, config_path), encoding="utf-8")
            return
        runner.serve_on_ray(settings, config_path)
        return
    from ocrgate import launcher

    launcher.serve(settings, config_path)
