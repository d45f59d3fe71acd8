"""What the SQLite and PostgreSQL job stores share: rows to models, progress counts, a job's final state.

Both stores keep the same columns (`backends` and `options` as JSON text), so one conversion serves both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ocrgate.schema import JobProgress


def job_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """A `jobs` row as `JobRecord` fields (the JSON columns decoded)."""
    data = dict(row)
    return data | {"backends": json.loads(data["backends"]), "options": json.loads(data["options"])}


def count_progress(backends_json: str, counts: Iterable[Mapping[str, Any]]) -> dict[str, JobProgress]:
    """Page counts per backend from `(backend, status, n)` rows; cancelled pages count only in `total`."""
    result = {backend: JobProgress() for backend in json.loads(backends_json)}
    for r in counts:
        progress = result.setdefault(r["backend"], JobProgress())
        progress.total += r["n"]
        if r["status"] in JobProgress.model_fields:
            setattr(progress, r["status"], getattr(progress, r["status"]) + r["n"])
    return result


def failure_summary(counts: Mapping[str, int], first: Mapping[str, Any]) -> str:
    """The error of a job some of whose pages failed; `first` is the first failed page (idx, backend)."""
    return (
        f"{counts.get('failed', 0)} of {sum(counts.values())} pages failed; first: page {first['idx']}"
        f" ({first['backend']}): {first['error']}"
    )
