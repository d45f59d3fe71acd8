"""Where reliability tests put their figures: one JSON file per test under bench/reports/ (gitignored)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "bench" / "reports"


def write_report(name: str, figures: dict[str, Any]) -> Path:
    """Write `figures` to bench/reports/NAME.json, print them, and return the path."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{name}.json"
    text = json.dumps(figures, indent=2, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")
    print(f"\n{name}: {text}")
    return path


def rss_bytes(pid: int) -> int:
    """Resident set size of a live process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def fuzz_examples(default: int) -> int:
    """How many inputs a fuzz test generates: `default`, or OCRGATE_FUZZ_EXAMPLES when set."""
    return int(os.environ.get("OCRGATE_FUZZ_EXAMPLES", default))
