"""Command line: `ocrgate ocr | backends | serve | worker | gateway | web | eval`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ocrgate.backends import registry
from ocrgate.batch.inputs import find_inputs
from ocrgate.batch.outputs import spare_inputs
from ocrgate.batch.readers import Plan, check
from ocrgate.batch.run import print_summary, run_batch
from ocrgate.config import Settings, load_settings
from ocrgate.environment import CHECKS, EnvironmentCheck, config_checks, missing, probe, runs_elsewhere
from ocrgate.errors import OCRGateError
from ocrgate.formats import FORMATS, parse_formats
from ocrgate.wire import options_from_json

#: help texts are markdown: a docstring's paragraphs reflow to the terminal's width (its line breaks are
#: the source's, not the reader's), `code` is styled
app = typer.Typer(
    help="ocrgate: one gateway in front of several OCR engines.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config file (default: $OCRGATE_CONFIG)")
]


class TextLayerChoice(StrEnum):
    auto = "auto"
    never = "never"
    only = "only"


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


def _formats(given: list[str] | None, out: Path | None, inputs: int) -> tuple[str, ...]:
    """The formats asked for (default: json on stdout, json and md under --out); what stdout can
    take: one format, and one file of the formats that cannot be concatenated."""
    try:
        formats = tuple(parse_formats(",".join(given))) if given else (("json", "md") if out else ("json",))
    except OCRGateError as exc:
        _fail(exc.message)
    if out is None:
        if len(formats) > 1:
            _fail(f"{len(formats)} formats ({', '.join(formats)}) are written to files: add --out DIR")
        if formats[0] in ("alto", "hocr", "pdf") and inputs > 1:
            _fail(f"--format {formats[0]} writes one file per input: add --out DIR")
        if formats[0] == "pdf" and sys.stdout.isatty():
            _fail("a PDF is not for the terminal: redirect stdout to a file, or add --out DIR")
    return formats


@app.command()
def ocr(
    paths: Annotated[list[Path], typer.Argument(help="images, PDFs, and folders of them (read recursively)")],
    backend: Annotated[str, typer.Option("--backend", "-b", help="backend name")] = "",
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help=f"{', '.join(FORMATS)}; several with --out: -f md,alto"),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write each input's files here")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="files read at once (processes)")] = 1,
    options: Annotated[str | None, typer.Option(help="engine options as a JSON object")] = None,
    prompt: Annotated[str | None, typer.Option(help="prompt, for engines that take one")] = None,
    dpi: Annotated[int | None, typer.Option(help="PDF rasterising DPI", min=36, max=600)] = None,
    text_layer: Annotated[
        TextLayerChoice, typer.Option(help="PDF pages: use a reliable text layer (auto), never, or only it")
    ] = TextLayerChoice.auto,
    boxes: Annotated[
        BoxesChoice, typer.Option(help="boxes pictures for all, first or no pages (SVG files with --out)")
    ] = BoxesChoice.none,
    images: Annotated[
        bool, typer.Option("--images", help="keep source_markdown (figures as base64 PNG) in the JSON")
    ] = False,
    via: Annotated[str | None, typer.Option(help="read through the gateway at this URL")] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="OCRGATE_API_KEY", help="the gateway's API key, with --via")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="read again inputs already done in --out")] = False,
    config: ConfigOption = None,
) -> None:
    """Recognise images, PDFs and folders of them; print the result, or write files under --out.

    With --out a run can be stopped (Ctrl-C: exit 130; summary.csv keeps every file finished) and
    started again: inputs whose files are all there are skipped. Files an earlier run wrote (listed
    in its output folder's .ocrgate-outputs) are never read as inputs. The exit code is 2 when any
    file or page failed (each named on stderr), else 0.
    """
    settings = _settings(config)
    found = find_inputs(paths, out)
    formats = _formats(fmt, out, len(found.inputs))
    if out is not None:
        found = spare_inputs(found, out, formats)
    for problem in found.errors:
        err.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True)
    if found.earlier_outputs:
        names = ", ".join(str(p) for p in found.earlier_outputs[:3])
        more = f" and {len(found.earlier_outputs) - 3} more" if len(found.earlier_outputs) > 3 else ""
        err.print(
            f"note: left out {names}{more}: written by an earlier ocrgate run",
            highlight=False,
            soft_wrap=True,
        )
    if not found.inputs and not found.refused:
        _fail(
            "no image or PDF to read" + (f" ({found.ignored} other files ignored)" if found.ignored else "")
        )
    name = backend or ("" if via else settings.default_backend)
    try:
        engine_options = options_from_json(options)
        if prompt:
            engine_options["prompt"] = prompt
        plan = Plan(
            formats=formats,
            out=out,
            limits=settings.limits,
            backend=name,
            engine_settings=settings.backends[name].engine_settings() if name in settings.backends else {},
            class_paths={n: c.class_path for n, c in settings.backends.items() if c.class_path},
            options=engine_options,
            boxes=boxes.value,
            images=images,
            dpi=dpi,
            text_layer=text_layer.value,
            via=via,
            api_key=api_key,
            compact=len(found.inputs) > 1,
        )
        checked = check(plan)  # a bad option or backend fails once, before any file is read
    except OCRGateError as exc:
        _fail(exc.message)
    summary = run_batch(found.inputs, plan, jobs, err, backend=checked, force=force, refused=found.refused)
    if out is not None or len(found.inputs) > 1 or summary.interrupted:
        print_summary(summary, err)
    if summary.interrupted:
        raise typer.Exit(130)
    if not summary.ok or found.errors:
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
            detail = escape(reason or "")  # rich would read `[backends.x.options]` as markup and drop it
            table.add_row(name, "no" if reason else "yes", "yes" if configured else "no", detail)
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
    from ocrgate.header_deadline import protocol_class
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
    http = protocol_class(settings.limits.header_timeout_s)
    uvicorn.run(worker_app, host=host, port=port, log_level="warning", http=http)


@app.command()
def gateway(
    host: Annotated[str | None, typer.Option(help="address to bind (default: config, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: config, 8080)")] = None,
    config: ConfigOption = None,
) -> None:
    """Run the gateway alone, in front of workers that run elsewhere (see `serve` for everything). On
    SIGTERM / Ctrl-C it stops taking requests and gives those in flight `shutdown_grace_s` seconds."""
    from ocrgate.gateway.app import create_gateway_app
    from ocrgate.gateway.shutdown import run_gateway

    settings = _settings(config)
    _logging()
    gateway = settings.gateway
    run_gateway(
        create_gateway_app(settings), host or gateway.host, port or gateway.port, gateway.shutdown_grace_s
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

    from ocrgate.config import Limits
    from ocrgate.header_deadline import protocol_class
    from ocrgate.web_server import create_web_app

    http = protocol_class(Limits().header_timeout_s)
    uvicorn.run(create_web_app(api), host=host, port=port, log_level="warning", http=http)


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
    host: Annotated[
        str | None, typer.Option(help="the gateway's address (default: config, 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="the gateway's port (default: config, 8080)")
    ] = None,
) -> None:
    """Start the workers and the gateway, restart crashed workers, stop all on Ctrl-C."""
    settings = _settings(config)
    chosen = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    settings.gateway = settings.gateway.model_copy(update=chosen)
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
