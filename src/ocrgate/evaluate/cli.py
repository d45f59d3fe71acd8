"""`ocrgate eval --manifest M --backends a,b --out DIR` and `ocrgate eval diff RUN_A RUN_B`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ocrgate.errors import InputError, OCRGateError
from ocrgate.evaluate.datasets import InputMode, choose_input, load_dataset
from ocrgate.evaluate.diff import diff_summaries, load_summary
from ocrgate.evaluate.machine import read_sessions, record_session, start_run
from ocrgate.evaluate.preflight import check_backends, evaluated, failure_lines
from ocrgate.evaluate.report import write_report
from ocrgate.evaluate.runner import (
    RESULTS,
    Recognizer,
    ScoreOptions,
    backend_variant,
    in_process,
    read_results,
    run_pages,
    score,
    via_gateway,
)
from ocrgate.evaluate.sampling import stratified_sample
from ocrgate.evaluate.terminal import print_summary

HELP = """Measure accuracy and speed of backends on pages with ground truth: run every page through each
backend, score it, write the report (resumable); `eval diff` compares two runs.

Exit code: 0 when some page was evaluated (a backend's failed pages are named on stderr); 1 when none
could be (every page failed, or the gateway refused the API key or cannot be reached); 2 for a usage
error found before any page is read (unknown backend or variant, bad option, no pages)."""

eval_app = typer.Typer(
    help=HELP,
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode="markdown",  # as `ocrgate`'s: paragraphs reflow to the terminal's width
)
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@eval_app.callback()
def run(
    ctx: typer.Context,
    manifest: Annotated[
        Path | None,
        typer.Option(help="manifest.jsonl, a folder holding one, or a folder of pages + .txt/.md"),
    ] = None,
    backends: Annotated[
        str,
        typer.Option(
            help="comma-separated backend names; NAME:lines scores the engine's own line order "
            "(no reading-order step) as a baseline row"
        ),
    ] = "",
    out: Annotated[
        Path | None, typer.Option(help="run folder: results.jsonl, summary.json, report.html")
    ] = None,
    via: Annotated[str | None, typer.Option(help="send pages to the gateway at this URL")] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="OCRGATE_API_KEY", help="the gateway's API key, with --via")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(help="a sample of N pages spread over sources and document types (stratified)", min=1),
    ] = None,
    seed: Annotated[int, typer.Option(help="the --limit sample's random seed (same seed, same pages)")] = 0,
    source: Annotated[str | None, typer.Option(help="only pages of this source (comma-separated)")] = None,
    input_mode: Annotated[
        InputMode,
        typer.Option(
            "--input",
            help="the file each page is read from: auto = its PDF where it has one (as a user sends it; "
            "ocrgate reads a reliable text layer), else the image; image = the image; pdf = only pages "
            "with a PDF",
        ),
    ] = "auto",
    casefold: Annotated[bool, typer.Option(help="fold case before CER/WER/F1")] = True,
    collapse_ws: Annotated[bool, typer.Option(help="collapse white space before CER/WER/F1")] = True,
    strip_markdown: Annotated[bool, typer.Option(help="drop markdown syntax before CER/WER/F1")] = True,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config (backend settings)")
    ] = None,
) -> None:
    """Run every page through each backend, score it, and write the report (resumable); see `HELP`."""
    if ctx.invoked_subcommand is not None:
        return
    if manifest is None or out is None or not backends:
        err.print(ctx.get_help(), highlight=False)
        _fail("--manifest, --backends and --out are needed")
    names = [b.strip() for b in backends.split(",") if b.strip()]
    for name in names:
        try:
            backend_variant(name)
        except ValueError as exc:
            _fail(str(exc))
    if not names:
        _fail("--backends names no backend")
    try:
        pages = load_dataset(manifest)
    except (OSError, ValueError) as exc:
        _fail(f"cannot read dataset {manifest}: {exc}")
    if source:
        wanted = set(source.split(","))
        pages = [p for p in pages if p.source in wanted]
    if input_mode == "pdf":
        pages = [p for p in pages if choose_input(p, input_mode) is not None]
    if not pages:
        _fail(f"no pages with ground truth in {manifest}" + (" and a PDF" if input_mode == "pdf" else ""))
    pages = stratified_sample(pages, limit, seed) if limit else pages
    settings: dict[str, dict] = {}
    if config is not None and via is None:
        from ocrgate.backends import registry
        from ocrgate.config import load_settings

        try:
            loaded = load_settings(config)
        except (FileNotFoundError, ValueError) as exc:
            _fail(f"bad configuration: {exc}")
        settings = {name: b.engine_settings() for name, b in loaded.backends.items()}
        registry.configure(loaded.backends)
    try:  # an unknown backend, or a gateway that refuses us, stops the run before its first page
        check_backends(names, via, api_key)
    except InputError as exc:
        _fail(exc.message)
    except OCRGateError as exc:
        _fail(exc.message, 1)

    def make(name: str) -> Recognizer:
        if via:
            return via_gateway(name, via, api_key)
        return in_process(name, settings.get(name.partition(":")[0]))

    options = ScoreOptions(casefold=casefold, collapse_ws=collapse_ws, strip_markdown=strip_markdown)
    err.print(f"{len(pages)} pages × {len(names)} backends, input {input_mode} → {out}", highlight=False)
    run_info = start_run(input_mode, limit, seed if limit else None)
    before = {k: r.finished_at for k, r in read_results(out).items()}
    records = run_pages(pages, names, out, make, options, err, input_mode=input_mode)
    recognised = sum(1 for k, r in records.items() if before.get(k) != r.finished_at)
    # records from earlier runs are scored again, so metric or option changes apply to them too
    by_id = {p.id: p for p in pages}
    mine = [
        score(r, by_id[r.page_id], options)
        for r in records.values()
        if r.backend in names and r.page_id in by_id
    ]
    run_info = run_info.finish(recognised)
    if recognised:
        record_session(out, run_info)
    summary = write_report(mine, pages, out, str(manifest), options, run_info, read_sessions(out))
    print_summary(summary)
    err.print(f"report: {out / 'report.html'}", highlight=False)
    for line in failure_lines(mine, names):
        err.print(f"[yellow]failed:[/yellow] {line}", highlight=False, soft_wrap=True)
    if not mine:
        _fail(f"no page was read: none has a file for --input {input_mode}", 1)
    if not evaluated(mine):
        _fail(f"no page could be evaluated: all {len(mine)} failed (see above, and {out / RESULTS})", 1)


@eval_app.command()
def diff(
    run_a: Annotated[Path, typer.Argument(help="the earlier run folder (or its summary.json)")],
    run_b: Annotated[Path, typer.Argument(help="the later run folder (or its summary.json)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the diff as JSON")] = False,
) -> None:
    """Show what changed between two runs: metric deltas per backend and pages that got better or worse."""
    try:
        a, b = load_summary(run_a), load_summary(run_b)
    except (OSError, ValueError) as exc:
        _fail(f"cannot read run summary: {exc}")
    result = diff_summaries(a, b)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    table = Table("backend", "group", "metric", "A", "B", "Δ")
    for d in result.metrics:
        if d.a is None and d.b is None:
            continue
        colour = "" if d.better is None else ("green" if d.better else "red")
        delta = "–" if d.delta is None else f"{d.delta:+.3f}"
        table.add_row(
            d.backend,
            d.group,
            d.metric,
            "–" if d.a is None else f"{d.a:.3f}",
            "–" if d.b is None else f"{d.b:.3f}",
            f"[{colour}]{delta}[/{colour}]" if colour else delta,
        )
    console = Console()
    console.print(table)
    for title, changes in (("better", result.better_pages), ("worse", result.worse_pages)):
        console.print(f"{len(changes)} pages {title}")
        for c in changes:
            va = "failed" if c.a is None else f"{c.a:.3f}"
            vb = "failed" if c.b is None else f"{c.b:.3f}"
            console.print(f"  {c.backend} {c.page_id}: {c.metric} {va} → {vb}", highlight=False)
    for name in result.only_in_a:
        console.print(f"backend {name} only in A")
    for name in result.only_in_b:
        console.print(f"backend {name} only in B")
