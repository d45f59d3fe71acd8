"""A 50-page PDF end to end through the gateway: as a job and as one synchronous request.

The PDFs are built at bench time from real pages (never stored):
- *vector*: the docling_pdf set's PDF pages, in turn, until there are 50 (pypdfium2 copies them);
- *scan*: 50 copies of the scanned page tesseract_test/phototest.png (640x480, the lightest real page
  at hand, so that RapidOCR gets through 50 pages in a minute or two on two cores) as an image PDF
  whose 144-dpi rendering gives back the page's pixels.

Measured:
- rasterise alone: every page rendered as the gateway renders it (`Document.page`), one after the
  other, in this process;
- recognise alone: the sum of the engine's own seconds per page (`timings.ocr` of the synchronous
  answer: the sum of every page's `ocr_seconds`);
- end to end: from sending the PDF to having every page back (job: `POST /v1/jobs`, then
  `GET /v1/jobs/{id}` until it is completed; synchronous: one `POST /v1/ocr`).
Rasterising overlaps recognition when end to end < rasterise + recognise.

1. Overlap, shown where it can be seen: the vector PDF (tens of ms to rasterise a page) through the
   no-op backend sleeping about as long per page as a page takes to rasterise, one replica.
2. One replica vs two of RapidOCR with one thread each (two replicas can use two cores), the scan
   PDF as a job (`--source vector` for the vector PDF, `--sync-too` for a synchronous request as
   well). Target: two replicas ≥ 1.8x one, where the machine has the cores for it.

    python -m bench.pdf_pipeline [--quick] [--pages 50] [--source scan|vector] [--sync-too] [--out DIR]
"""

from __future__ import annotations

import io
import time
from typing import Any

import httpx

from bench.common import (
    EVAL_DIR,
    NOOP,
    Report,
    base_parser,
    machine,
    machine_line,
    main_for,
    running_cluster,
    small_page,
    table,
    verdict,
    worker_urls,
)
from ocrgate.documents import open_document

TARGET_SPEEDUP = 1.8
DPI = 144


def scan_pdf(pages: int) -> tuple[bytes, str]:
    """`pages` copies of a real scanned page as an image PDF (144 dpi gives back its pixels)."""
    from PIL import Image

    page = small_page()
    image = Image.open(io.BytesIO(page.data)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", save_all=True, append_images=[image] * (pages - 1), resolution=DPI)
    return buffer.getvalue(), f"{pages} x {page.label} as an image PDF"


def vector_pdf(pages: int) -> tuple[bytes, str]:
    """The docling_pdf set's vector pages, in turn, until there are `pages`."""
    import pypdfium2 as pdfium

    sources = [pdfium.PdfDocument(path) for path in sorted((EVAL_DIR / "docling_pdf" / "pdf").glob("*.pdf"))]
    if not sources:  # no ../shared/eval beside this checkout: the scan PDF stands in
        return scan_pdf(pages)
    all_pages = [(source, index) for source in sources for index in range(len(source))]
    target = pdfium.PdfDocument.new()
    for number in range(pages):
        source, index = all_pages[number % len(all_pages)]
        target.import_pages(source, [index])
    buffer = io.BytesIO()
    target.save(buffer)
    for document in (target, *sources):
        document.close()
    return buffer.getvalue(), f"{pages} vector pages from {len(sources)} docling_pdf files, in turn"


def rasterise_alone(data: bytes) -> dict[str, Any]:
    started = time.perf_counter()
    document = open_document(data, "bench.pdf", dpi=DPI)
    opened = time.perf_counter() - started
    seconds = []
    try:
        for index in range(document.page_count):
            t0 = time.perf_counter()
            document.page(index)
            seconds.append(time.perf_counter() - t0)
    finally:
        document.close()
    return {"open_s": opened, "rasterise_s": sum(seconds), "per_page_ms": 1000 * sum(seconds) / len(seconds)}


def as_job(client: httpx.Client, data: bytes, backend: str) -> dict[str, Any]:
    started = time.perf_counter()
    response = client.post(
        "/v1/jobs",
        files={"file": ("bench.pdf", data, "application/pdf")},
        data={"backend": backend, "boxes": "none"},
    )
    response.raise_for_status()
    job_id = response.json()["id"]
    while True:
        status = client.get(f"/v1/jobs/{job_id}").json()
        if status["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    progress = status["progress"][backend]
    return {
        "status": status["status"],
        "e2e_s": seconds,
        "pages_done": progress["done"],
        "failed": progress["failed"],
    }


def synchronous(client: httpx.Client, data: bytes, backend: str) -> dict[str, Any]:
    started = time.perf_counter()
    response = client.post(
        "/v1/ocr",
        files={"file": ("bench.pdf", data, "application/pdf")},
        data={"backend": backend, "boxes": "none"},
    )
    seconds = time.perf_counter() - started
    response.raise_for_status()
    answer = response.json()
    timings = answer["timings"]
    return {
        "e2e_s": seconds,
        "pages_done": len(answer["pages"]),
        "recognise_s": timings["ocr"],  # the sum of every page's ocr_seconds
        "gateway_rasterise_s": timings["decode"],
        "gateway_total_s": timings["total"],
    }


def both_ways(
    backend: str,
    config: dict[str, Any],
    data: bytes,
    raster_s: float,
    recognise_s: float | None = None,
    modes: tuple[str, ...] = ("job", "synchronous"),
) -> dict[str, Any]:
    """The PDF as a job, then as one synchronous request (`modes`), through a fresh cluster.

    Recognise alone is `recognise_s` where the engine's time is known (the no-op backend's sleep),
    else the engine's own seconds summed over the synchronous request's pages.
    """
    results: dict[str, Any] = {}
    with (
        running_cluster({backend: config}, gateway={"job_concurrency": 4}) as cluster,
        httpx.Client(base_url=cluster.url, timeout=3600) as client,
    ):
        for worker in worker_urls(cluster, backend):  # no first-call cost in what is measured
            httpx.post(
                f"{worker}/v1/ocr",
                content=small_page().data,
                headers={"content-type": "image/png"},
                timeout=600,
            ).raise_for_status()
        if "job" in modes:
            results["job"] = as_job(client, data, backend)
        if "synchronous" in modes:
            results["synchronous"] = synchronous(client, data, backend)
    sync = results.get("synchronous")
    if sync is not None:
        sync["engine_seconds_reported_s"] = sync["recognise_s"]
    recognise = recognise_s if recognise_s is not None else (sync or {}).get("recognise_s")
    for result in results.values():
        result["pages_per_s"] = result["pages_done"] / result["e2e_s"]
        result["rasterise_s"] = raster_s
        result["recognise_s"] = recognise
        if recognise is not None:
            result["rasterise_plus_recognise_s"] = raster_s + recognise
            result["overlap_s"] = result["rasterise_plus_recognise_s"] - result["e2e_s"]
            result["overlapped"] = result["overlap_s"] > 0
    return results


def rows_of(label: str, modes: dict[str, dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            label,
            mode,
            r["pages_done"],
            r["e2e_s"],
            r["pages_per_s"],
            r["rasterise_s"],
            r["recognise_s"],
            r["rasterise_plus_recognise_s"],
            r["overlap_s"],
        ]
        for mode, r in modes.items()
    ]


HEADERS = [
    "setup",
    "mode",
    "pages",
    "end to end s",
    "pages/s",
    "rasterise s",
    "recognise s (sum)",
    "rasterise + recognise s",
    "overlap s",
]


def run(args: Any) -> Report:
    info = machine()
    pages = 6 if args.quick and args.pages == 50 else args.pages
    vector, vector_described = vector_pdf(pages)
    vector_raster = rasterise_alone(vector)

    # 1. overlap: the no-op backend sleeps about what rasterising a vector page takes
    delay_s = round(vector_raster["rasterise_s"] / pages, 3)
    noop = {"class_path": NOOP, "concurrency": 1, "queue_size": 64, "options": {"delay_s": delay_s}}
    asleep = pages * delay_s  # the no-op engine's time: it sleeps delay_s a page
    overlap = both_ways("noop", noop, vector, vector_raster["rasterise_s"], asleep)
    # the same engine, one page at a time, but the worker takes two: the gateway sends the next page
    # (6 MB of raw pixels for an A4 page) while the engine works on this one
    prefetch = {**noop, "concurrency": 2, "options": {"delay_s": delay_s, "serial": True}}
    overlap_prefetch = both_ways("noop", prefetch, vector, vector_raster["rasterise_s"], asleep)

    # 2. one vs two replicas of a real engine
    if args.source == "vector":
        data, described, raster = vector, vector_described, vector_raster
    else:
        data, described = scan_pdf(pages)
        raster = rasterise_alone(data)
    runs: dict[int, dict[str, Any]] = {}
    modes = ("job", "synchronous") if args.sync_too else ("job",)
    for replicas in (1, 2):
        config = {"replicas": replicas, "concurrency": 1, "queue_size": 64, "options": {"threads": 1}}
        runs[replicas] = both_ways("rapidocr", config, data, raster["rasterise_s"], modes=modes)
    speedup = {mode: runs[2][mode]["pages_per_s"] / runs[1][mode]["pages_per_s"] for mode in modes}

    load = " / ".join(map(str, info["load_average_1_5_15"]))
    lines = [
        f"Machine: {machine_line(info)}. Pages rasterised at {DPI} dpi, boxes=none; a job keeps 4 pages "
        "in flight, a synchronous request one per free worker slot.",
        "",
        f"### Rasterising overlaps recognition ({vector_described})",
        "",
        f"{len(vector) / 1024:.0f} KiB; rasterising alone {vector_raster['rasterise_s']:.2f} s "
        f"({vector_raster['per_page_ms']:.1f} ms a page). Engine: the no-op backend sleeping "
        f"{1000 * delay_s:.0f} ms a page (about one page's rasterising; recognise = pages x that), one "
        "replica.",
        "",
        *table(
            HEADERS,
            rows_of("noop x1, 1 page in flight", overlap)
            + rows_of("noop x1, 2 in flight (engine serial)", overlap_prefetch),
        ),
        "With one page in flight per worker, the worker's engine waits while the next page is "
        "rasterised (synchronous requests rasterise inside the page window), sent as raw pixels and "
        "received; with two in flight (`concurrency = 2`, the engine still one page at a time) those "
        "steps overlap the engine's work.",
        "",
        f"### One vs two replicas of RapidOCR ({described})",
        "",
        f"{len(data) / 1024:.0f} KiB; rasterising alone {raster['rasterise_s']:.2f} s "
        f"({raster['per_page_ms']:.1f} ms a page). One thread per replica.",
        "",
        *table(
            ["replicas", "mode", "pages", "end to end s", "pages/s", "speedup vs one replica"],
            [
                [
                    n,
                    mode,
                    r["pages_done"],
                    r["e2e_s"],
                    r["pages_per_s"],
                    r["pages_per_s"] / runs[1][mode]["pages_per_s"],
                ]
                for n, by_mode in runs.items()
                for mode, r in by_mode.items()
            ],
        ),
        "Two replicas vs one: "
        + ", ".join(
            f"{mode} {value:.2f}x (target ≥ {TARGET_SPEEDUP}x: {verdict(value >= TARGET_SPEEDUP)})"
            for mode, value in speedup.items()
        )
        + f"; {info['nproc']} cores, shared with other work: load average {load} when the run started.",
        "",
    ]
    lines += [
        "Recognise = the engine's own seconds summed over the pages (the no-op backend: pages x its "
        "sleep). The speedup runs are jobs, the way multi-page PDFs are meant to go (`--sync-too` adds "
        "the synchronous request).",
    ]
    data_out = {
        "machine": info,
        "overlap": {
            "pdf": {"described": vector_described, "pages": pages, "bytes": len(vector), "dpi": DPI},
            "rasterise_alone": vector_raster,
            "noop_delay_s": delay_s,
            "runs": overlap,
            "runs_two_in_flight_engine_serial": overlap_prefetch,
        },
        "replicas": {
            "pdf": {"described": described, "pages": pages, "bytes": len(data), "dpi": DPI},
            "rasterise_alone": raster,
            "runs": {str(k): v for k, v in runs.items()},
            "speedup_two_vs_one": speedup,
            "target_speedup": TARGET_SPEEDUP,
        },
    }
    return Report("pdf_pipeline", f"A {pages}-page PDF end to end", data_out, lines)


def parser() -> Any:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=50)
    p.add_argument("--source", choices=["scan", "vector"], default="scan")
    p.add_argument("--sync-too", action="store_true", help="replicas: a synchronous request too")
    return p


if __name__ == "__main__":
    raise SystemExit(main_for(run, parser()))
