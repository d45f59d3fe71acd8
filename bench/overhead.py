"""Gateway overhead: the same page straight to a worker and through the gateway, one request at a time.

Both paths get the same bytes: the page's PNG to the worker's `POST /v1/ocr`, and the same PNG as a
multipart upload to the gateway's `POST /v1/ocr` (`boxes=none`; `boxes=first` too, to show what the
boxes picture costs). The paths alternate request by request, in a rotating order, so that whatever
else the machine does hits them alike. Added latency = gateway percentile − direct percentile.

Targets (no-op backend, small page, boxes=none): added p50 under 3 ms, added p99 under 15 ms.

    python -m bench.overhead [--quick] [--out bench/results]
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.common import (
    NOOP,
    Report,
    SamplePage,
    base_parser,
    fast_servers,
    full_page,
    latency_ms,
    machine,
    machine_line,
    main_for,
    running_cluster,
    small_page,
    table,
    tesseract_available,
    verdict,
    worker_urls,
)
from ocrgate.wire import RAW_RGB

TARGET_P50_MS = 3.0
TARGET_P99_MS = 15.0


def multipart(page: SamplePage, backend: str, boxes: str) -> tuple[bytes, dict[str, str]]:
    """The gateway request's body, encoded once so that the client's own cost is the same each time."""
    request = httpx.Request(
        "POST",
        "http://gateway/v1/ocr",
        files={"file": (page.name, page.data, page.media_type)},
        data={"backend": backend, "boxes": boxes},
    )
    return request.read(), {"content-type": request.headers["content-type"]}


def raw_rgb(page: SamplePage) -> tuple[bytes, dict[str, Any]]:
    """The page's pixels as the gateway forwards them: raw RGB, with the size in the query."""
    from PIL import Image

    with Image.open(io.BytesIO(page.data)) as image:
        rgb = image.convert("RGB")
    return rgb.tobytes(), {"index": 0, "width": rgb.width, "height": rgb.height}


def interleaved(
    calls: dict[str, Callable[[], httpx.Response]], rounds: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, list[dict[str, Any]]]]:
    """Each call once per round, the order rotating round by round; seconds per call and answers."""
    names = list(calls)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    answers: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for number in range(warmup + rounds):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            response = calls[name]()
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"{name}: HTTP {response.status_code}: {response.text[:300]}")
            if number >= warmup:
                seconds[name].append(elapsed)
                answers[name].append(response.json())
    return seconds, answers


def measure(
    gateway: str,
    worker: str,
    backend: str,
    page: SamplePage,
    rounds: int,
    boxes_first: bool,
    raw: bool = False,
) -> dict[str, Any]:
    """Direct vs gateway (boxes=none, and boxes=first when asked) for one backend and one page."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with (
        httpx.Client(base_url=worker, timeout=300, limits=limits) as direct,
        httpx.Client(base_url=gateway, timeout=300, limits=limits) as through,
        httpx.Client(base_url=gateway, timeout=300, limits=limits) as through_first,
    ):
        none_body, none_headers = multipart(page, backend, "none")
        first_body, first_headers = multipart(page, backend, "first")
        calls: dict[str, Callable[[], httpx.Response]] = {
            "direct": lambda: direct.post(
                "/v1/ocr", content=page.data, params={"index": 0}, headers={"content-type": page.media_type}
            ),
            "gateway": lambda: through.post("/v1/ocr", content=none_body, headers=none_headers),
        }
        if boxes_first:
            calls["gateway_boxes_first"] = lambda: through_first.post(
                "/v1/ocr", content=first_body, headers=first_headers
            )
        if raw:  # the page as the gateway sends it on: raw RGB pixels (no PNG decode in the worker)
            raw_body, raw_params = raw_rgb(page)
            calls["direct_raw"] = lambda: direct.post(
                "/v1/ocr", content=raw_body, params=raw_params, headers={"content-type": RAW_RGB}
            )
        seconds, answers = interleaved(calls, rounds, warmup=max(3, rounds // 50))
    base = latency_ms(seconds["direct"])
    case: dict[str, Any] = {"backend": backend, "page": page.label, "rounds": rounds, "direct": base}
    if "direct_raw" in calls:
        case["direct_raw"] = latency_ms(seconds["direct_raw"])
    for name in calls:
        if name.startswith("direct"):
            continue
        lat = latency_ms(seconds[name])
        inside = [a["timings"] for a in answers[name]]
        case[name] = {
            **lat,
            "added_p50_ms": lat["p50"] - base["p50"],
            "added_p99_ms": lat["p99"] - base["p99"],
            "added_paired_median_ms": 1000
            * statistics.median(g - d for g, d in zip(seconds[name], seconds["direct"], strict=False)),
            "ratio_p50": lat["p50"] / base["p50"],
            # what the gateway itself says it spent (medians, ms): decode = reading + checking the
            # upload, queue = sending to the worker and back minus the engine, render = markdown + boxes
            "gateway_timings_p50_ms": {
                key: 1000 * statistics.median(t[key] for t in inside)
                for key in ("decode", "queue", "ocr", "render", "total")
            },
        }
        # client -> gateway -> client minus the gateway's own total: HTTP, multipart and JSON
        case[name]["outside_handler_p50_ms"] = lat["p50"] - case[name]["gateway_timings_p50_ms"]["total"]
    return case


def run(args: Any) -> Report:
    quick = args.quick
    info = machine()
    small, full = small_page(), full_page()
    backends: dict[str, dict[str, Any]] = {
        "noop": {"class_path": NOOP},
        "rapidocr": {"options": {"threads": 2}},
    }
    if tesseract_available():
        backends["tesseract"] = {}
    noop_rounds = 60 if quick else 500
    full_rounds = 10 if quick else 100
    engine_rounds = 3 if quick else 10
    speedups = fast_servers()
    installed = "+".join(n for n, ok in speedups.items() if ok) or "asyncio+h11"
    cases = []
    with running_cluster(backends) as cluster:
        workers = {name: worker_urls(cluster, name)[0] for name in backends}
        cases.append(
            measure(cluster.url, workers["noop"], "noop", small, noop_rounds, boxes_first=True, raw=True)
        )
        if full is not None:
            cases.append(
                measure(cluster.url, workers["noop"], "noop", full, full_rounds, boxes_first=True, raw=True)
            )
        for engine in ("rapidocr", "tesseract"):
            if engine in backends:
                cases.append(
                    measure(cluster.url, workers[engine], engine, small, engine_rounds, boxes_first=False)
                )
    for case in cases:
        case["servers"] = installed
    if any(speedups.values()):
        # what a fresh `pip install -e .` runs: uvicorn without uvloop and httptools
        with running_cluster({"noop": {"class_path": NOOP}}, plain_servers=True) as cluster:
            plain = measure(
                cluster.url, worker_urls(cluster, "noop")[0], "noop", small, noop_rounds, boxes_first=False
            )
        plain["servers"] = "asyncio+h11"
        cases.append(plain)
    head = cases[0]["gateway"]
    targets = {
        "added_p50_ms": {"value": head["added_p50_ms"], "target_below": TARGET_P50_MS},
        "added_p99_ms": {"value": head["added_p99_ms"], "target_below": TARGET_P99_MS},
    }
    for target in targets.values():
        target["meets"] = target["value"] < target["target_below"]

    lines = [
        f"Machine: {machine_line(info)}. One request at a time, paths alternating; latency measured by "
        "the client (keep-alive connections), from sending the request to the last byte of the answer.",
        "",
        f"**No-op backend, {small.label}, boxes=none:** added p50 {head['added_p50_ms']:.2f} ms "
        f"(target < {TARGET_P50_MS:g} ms: {verdict(targets['added_p50_ms']['meets'])}), added p99 "
        f"{head['added_p99_ms']:.2f} ms (target < {TARGET_P99_MS:g} ms: "
        f"{verdict(targets['added_p99_ms']['meets'])}).",
        f"Servers (gateway and workers): uvicorn on {installed} as installed here; the project "
        "declares plain `uvicorn`, so a fresh install runs asyncio+h11 unless uvloop and httptools "
        "happen to be there: the last rows hide them to show that case.",
        "",
    ]
    rows = []
    for case in cases:
        base = case["direct"]
        rows.append(
            [
                case["servers"],
                case["backend"],
                case["page"],
                "direct to worker",
                base["n"],
                base["p50"],
                base["p99"],
                "",
                "",
                "",
            ]
        )
        if "direct_raw" in case:
            r = case["direct_raw"]
            rows.append(
                [
                    case["servers"],
                    case["backend"],
                    case["page"],
                    "direct, raw RGB (as the gateway sends it)",
                    r["n"],
                    r["p50"],
                    r["p99"],
                    "",
                    "",
                    "",
                ]
            )
        for name in ("gateway", "gateway_boxes_first"):
            if name in case:
                c = case[name]
                label = "gateway, boxes=none" if name == "gateway" else "gateway, boxes=first"
                rows.append(
                    [
                        case["servers"],
                        case["backend"],
                        case["page"],
                        label,
                        c["n"],
                        c["p50"],
                        c["p99"],
                        c["added_p50_ms"],
                        c["added_p99_ms"],
                        c["ratio_p50"],
                    ]
                )
    lines += table(
        [
            "servers",
            "backend",
            "page",
            "path",
            "n",
            "p50 ms",
            "p99 ms",
            "added p50 ms",
            "added p99 ms",
            "ratio p50",
        ],
        rows,
    )
    rows = []
    for case in cases:
        for name in ("gateway", "gateway_boxes_first"):
            if name in case:
                t = case[name]["gateway_timings_p50_ms"]
                rows.append(
                    [
                        case["servers"],
                        case["backend"],
                        case["page"],
                        "boxes=none" if name == "gateway" else "boxes=first",
                        t["decode"],
                        t["queue"],
                        t["ocr"],
                        t["render"],
                        t["total"],
                        case[name]["outside_handler_p50_ms"],
                    ]
                )
    lines += [
        "Where the gateway's time goes (medians in ms, from the response's `timings`; *outside* = client "
        "latency minus the gateway's own total: HTTP parsing, multipart, JSON encoding, the event loop):",
        "",
        *table(
            [
                "servers",
                "backend",
                "page",
                "boxes",
                "decode",
                "to worker and back",
                "engine",
                "render",
                "total",
                "outside",
            ],
            rows,
        ),
        "Real engines: few samples (each page takes the engine hundreds of ms), so their p99 is close "
        "to the slowest sample; their added latency is what the no-op rows measure, hidden in the "
        "engine's own variation.",
    ]
    data = {"machine": info, "targets": targets, "cases": cases}
    return Report("overhead", "Gateway overhead (one request at a time)", data, lines)


if __name__ == "__main__":
    raise SystemExit(main_for(run, base_parser(__doc__.splitlines()[0])))
