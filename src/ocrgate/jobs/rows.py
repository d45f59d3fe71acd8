"""The job stores' rows as records and back (no SQL: that is `sql`'s): jobs, truths, progress counts, a
job's final state, and a schema 1 job's options without their `dpi` (what `sql.move_dpi` stores).

Both stores keep the same columns (`backends`, `options`, `backend_options` and `page_names` as JSON
text), so one conversion serves both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ocrgate.jobs.records import JobRecord, PageTruth
from ocrgate.schema import JobProgress

JSON_COLUMNS = ("backends", "options", "backend_options", "page_names")


def job_row(record: JobRecord) -> dict[str, Any]:
    """A `JobRecord` as a `jobs` row: column name -> value (the JSON columns encoded)."""
    data = record.model_dump()
    return data | {name: json.dumps(data[name]) for name in JSON_COLUMNS}


def job_of(row: Mapping[str, Any]) -> JobRecord:
    """A `jobs` row as a `JobRecord` (the JSON columns decoded; NULL, from before schema 4, as empty)."""
    data = dict(row)
    decoded = {name: json.loads(data[name]) for name in JSON_COLUMNS if data.get(name) is not None}
    return JobRecord(**{k: v for k, v in data.items() if v is not None or k not in JSON_COLUMNS} | decoded)


def truth_of(row: Mapping[str, Any]) -> PageTruth:
    """A `truths` row (job_id, idx, text, backend, updated_at) as a `PageTruth`."""
    return PageTruth(index=row["idx"], text=row["text"], backend=row["backend"], updated_at=row["updated_at"])


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
    """The error of a job some of whose pages failed; `first` is the first failed page (idx from 0,
    backend, error), named from 1 as every message names pages."""
    return (
        f"{counts.get('failed', 0)} of {sum(counts.values())} pages failed; first: page {first['idx'] + 1}"
        f" ({first['backend']}): {first['error']}"
    )


def split_dpi(options_json: str) -> tuple[str, int | None]:
    """Schema 1 kept a job's dpi as the `dpi` key of its options: (options without it, the dpi or None).

    The key goes whatever its value (schema 1's runner never passed it on to a backend); the dpi is kept
    when it is a whole number.
    """
    options = json.loads(options_json)
    dpi = options.pop("dpi", None)
    whole = isinstance(dpi, int | float) and not isinstance(dpi, bool) and float(dpi).is_integer()
    return json.dumps(options), int(dpi) if whole else None
