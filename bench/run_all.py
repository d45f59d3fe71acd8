"""Every benchmark in one run (what `make bench` does): overhead, throughput, the PDF pipeline.

Each writes `NAME.json` and `NAME.md` under --out; `summary.md` and `summary.json` put the headline
figures next to their targets, with the machine they ran on.

    python -m bench.run_all [--quick] [--out bench/results] [--only overhead,throughput,pdf_pipeline]

`--only profile_gateway` (or adding it to the list) also profiles the gateway; it needs py-spy.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
import traceback
from pathlib import Path
from typing import Any

from bench.common import RESULTS, fmt, load_average, machine, machine_line, tidy, verdict, write_report

MODULES = ("overhead", "throughput", "pdf_pipeline", "page_encoding")


def headline(name: str, data: dict[str, Any]) -> list[list[Any]]:
    """(figure, value, target, verdict) rows for summary.md."""
    if name == "overhead":
        rows = []
        for case in data["cases"]:
            page = case["page"].split(" (")[0]
            for boxes, targets in data["targets"].items():
                ratio, meets, added = case["ratios"][boxes], case["meets"][boxes], case["added_ms"]
                for q in ("p50", "p99"):
                    rows.append(
                        [
                            f"ocrgate added {q} / minimal proxy added {q}, {page}, boxes={boxes} "
                            f"({fmt(added[f'ocrgate_{boxes}'][q])} / {fmt(added['proxy'][q])} ms)",
                            ratio[q],
                            f"<= {targets[q]:g}",
                            "undefined (proxy added <= 0)" if meets[q] is None else verdict(meets[q]),
                        ]
                    )
        return rows
    if name == "throughput":
        return [
            [
                f"throughput ratio gateway/direct, lowest over the concurrencies: {setup}",
                value,
                f">= {data['target_ratio'][setup]}",
                verdict(value >= data["target_ratio"][setup]),
            ]
            for setup, value in data["lowest_ratio"].items()
        ]
    if name == "pdf_pipeline":
        rows = []
        for key, label in (("runs", "1 page in flight"), ("runs_two_in_flight_engine_serial", "2 in flight")):
            for mode, r in data["overlap"][key].items():
                rows.append(
                    [
                        f"PDF overlap (noop x1, {label}, {mode}): end to end vs rasterise + recognise (s)",
                        f"{fmt(r['e2e_s'])} vs {fmt(r['rasterise_plus_recognise_s'])}",
                        "end to end < sum",
                        verdict(r["overlapped"]),
                    ]
                )
        replicas = data["replicas"]
        for mode, value in replicas["speedup_two_vs_one"].items():
            one = replicas["runs"]["1"][mode]["pages_per_s"]
            two = replicas["runs"]["2"][mode]["pages_per_s"]
            rows.append(
                [
                    f"PDF rapidocr two replicas vs one ({mode}; {fmt(one)} -> {fmt(two)} pages/s)",
                    value,
                    f">= {replicas['target_speedup']}",
                    verdict(value >= replicas["target_speedup"]),
                ]
            )
        return rows
    if name == "page_encoding":
        return [
            [
                f"rasterised A4 page to a no-op worker, {encoding}: end to end p50 (ms)",
                values["p50"],
                "",
                "chosen" if encoding == "raw RGB" else "",
            ]
            for encoding, values in data["end_to_end_ms"].items()
        ]
    if name == "profile_gateway":
        return [
            [f"{process} CPU (GIL held) per no-op request (ms)", profile["gil_ms_per_request"], "", ""]
            for process, profile in data["profiles"].items()
        ]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", default=",".join(MODULES))
    parser.add_argument("--repeat", type=int, default=1, help="overhead: whole runs in a row, for the spread")
    args = parser.parse_args()
    started = time.perf_counter()
    info = machine()
    summary: dict[str, Any] = {"machine": info, "quick": args.quick, "benchmarks": {}}
    rows: list[list[Any]] = []
    failed = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        module = importlib.import_module(f"bench.{name}")
        t0 = time.perf_counter()
        print(f"== {name} ...", flush=True)
        try:
            report = module.run(argparse.Namespace(**{**vars(args), **module_defaults(name)}))
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        report.data["wall_s"] = time.perf_counter() - t0
        write_report(report, args.out)
        print(report.markdown(), flush=True)
        summary["benchmarks"][name] = {
            "wall_s": report.data["wall_s"],
            "headline": headline(name, report.data),
        }
        rows += headline(name, report.data)
    summary["wall_s"] = time.perf_counter() - started
    summary["load_average_at_end"] = load_average()
    summary["failed"] = failed
    lines = [
        "# ocrgate benchmarks: summary",
        "",
        f"Machine: {machine_line(info)}, {' / '.join(map(str, summary['load_average_at_end']))} when "
        f"it ended; {summary['wall_s']:.0f} s in all"
        + (" (quick run: small sizes)" if args.quick else "")
        + ". Details: overhead.md, throughput.md, pdf_pipeline.md, page_encoding.md.",
        "",
        "| figure | value | target | |",
        "|---|---|---|---|",
        *[f"| {a} | {fmt(b)} | {c} | {d} |" for a, b, c, d in rows],
        "",
    ]
    if failed:
        lines += [f"Failed: {', '.join(failed)} (see the log).", ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
    (args.out / "summary.json").write_text(json.dumps(tidy(summary), indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"written under {args.out}")
    return 1 if failed else 0


def module_defaults(name: str) -> dict[str, Any]:
    """Arguments a module's own parser would give that run_all's does not."""
    return {
        "overhead": {"rounds": None},
        "pdf_pipeline": {"pages": 50, "source": "scan", "sync_too": False},
        "profile_gateway": {"seconds": 20, "boxes": "none", "page": "small", "keep_raw": False},
    }.get(name, {})


if __name__ == "__main__":
    raise SystemExit(main())
