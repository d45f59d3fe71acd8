"""How a rasterised page should travel to a worker: raw RGB vs PNG (vs a fast compressor), end to end.

A PDF page is rasterised as the gateway does it (`Document.page`: a vector A4 page of the docling set
at the default 144 dpi, 1224x1584), then sent to a no-op worker's `POST /v1/ocr` in each encoding the
worker reads, one request at a time, the encodings alternating:
- raw RGB (`application/x-ocrgate-rgb`, what the gateway sends): `tobytes` here, `frombytes` there;
- PNG at compress level 1 (the fastest zlib level): encoded here, decoded by the worker's intake.
Each request's time counts the encoding (in a thread, as the gateway does it) and the whole answer.
Alone, without a worker: the same page through zlib level 1 and, when the `lz4` package is there,
lz4's frame format (compress and decompress), to show what compressing the raw bytes would cost.

    python -m bench.page_encoding [--quick] [--out bench/results]
"""

from __future__ import annotations

import io
import time
import zlib
from typing import Any

import anyio
import httpx

from bench.common import (
    EVAL_DIR,
    NOOP,
    Report,
    base_parser,
    latency_ms,
    machine,
    machine_line,
    main_for,
    running_cluster,
    table,
    worker_urls,
)
from ocrgate.documents import open_document
from ocrgate.wire import RAW_RGB, encode_page

PDF = EVAL_DIR / "docling_pdf" / "pdf" / "2305.03393v1-pg9.pdf"


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _best_ms(work: Any, times: int) -> tuple[float, Any]:
    """The fastest of `times` calls of `work` (ms: the machine's noise only ever adds) and its result."""
    best, result = float("inf"), None
    for _ in range(times):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return 1000 * best, result


def alone(image: Any, times: int) -> list[dict[str, Any]]:
    """Encode and decode costs and sizes of each encoding, without a worker (fastest of `times`)."""
    from PIL import Image

    raw = image.tobytes()
    rows = []

    def row(name: str, encode: Any, decode: Any) -> None:
        encode_ms, body = _best_ms(encode, times)
        decode_ms, _ = _best_ms(lambda: decode(body), times)
        rows.append({"encoding": name, "bytes": len(body), "encode_ms": encode_ms, "decode_ms": decode_ms})

    size = image.size
    row("raw RGB", image.tobytes, lambda b: Image.frombytes("RGB", size, b))
    row("PNG, compress level 1", lambda: _png(image), lambda b: Image.open(io.BytesIO(b)).load())
    row("raw RGB + zlib level 1", lambda: zlib.compress(raw, 1), zlib.decompress)
    try:
        import lz4.frame
    except ImportError:
        pass
    else:
        row("raw RGB + lz4 frame", lambda: lz4.frame.compress(image.tobytes()), lz4.frame.decompress)
    return rows


def end_to_end(worker: str, page: Any, rounds: int) -> dict[str, Any]:
    """Encode (in a thread) + POST to the worker + its answer, raw RGB vs PNG, interleaved; seconds."""

    def raw_body() -> tuple[bytes, str, dict[str, str]]:
        body, params = encode_page(page)
        return body, RAW_RGB, params

    def png_body() -> tuple[bytes, str, dict[str, str]]:
        return _png(page.image), "image/png", {"index": "0"}

    makers = {"raw RGB": raw_body, "PNG, compress level 1": png_body}
    seconds: dict[str, list[float]] = {name: [] for name in makers}

    async def drive() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            for number in range(rounds + 3):
                names = list(makers) if number % 2 == 0 else list(makers)[::-1]
                for name in names:
                    started = time.perf_counter()
                    body, content_type, params = await anyio.to_thread.run_sync(makers[name])
                    response = await client.post(
                        f"{worker}/v1/ocr",
                        content=body,
                        params=params,
                        headers={"content-type": content_type},
                    )
                    response.raise_for_status()
                    if number >= 3:
                        seconds[name].append(time.perf_counter() - started)

    anyio.run(drive)
    return {name: latency_ms(values) for name, values in seconds.items()}


def run(args: Any) -> Report:
    info = machine()
    if not PDF.is_file():
        raise SystemExit(f"the page is not at hand: {PDF}")
    document = open_document(PDF.read_bytes(), PDF.name)
    page = document.page(0)
    rounds = 10 if args.quick else 60
    costs = alone(page.image, 3 if args.quick else 9)
    with running_cluster({"noop": {"class_path": NOOP}}) as cluster:
        latency = end_to_end(worker_urls(cluster, "noop")[0], page, rounds)
    document.close()
    label = f"{PDF.name} page 1 rasterised at {document.dpi} dpi ({page.width}x{page.height})"
    lines = [
        f"Machine: {machine_line(info)}. Page: {label}.",
        "",
        "Alone (fastest of several tries, ms):",
        "",
        *table(
            ["encoding", "bytes", "encode ms", "decode ms"],
            [[c["encoding"], f"{c['bytes']:,}", c["encode_ms"], c["decode_ms"]] for c in costs],
        ),
        f"End to end to a no-op worker ({rounds} requests each, interleaved; encode in a thread + send + "
        "the worker's decode and answer, ms):",
        "",
        *table(
            ["encoding", "n", "p50", "p90", "p99"],
            [[name, v["n"], v["p50"], v["p90"], v["p99"]] for name, v in latency.items()],
        ),
    ]
    data = {"machine": info, "page": label, "alone": costs, "end_to_end_ms": latency}
    return Report("page_encoding", "A rasterised page on the wire: raw RGB vs PNG", data, lines)


if __name__ == "__main__":
    raise SystemExit(main_for(run, base_parser(__doc__.splitlines()[0])))
