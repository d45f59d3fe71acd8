"""A job's corrected pages as an evaluation set: a zip that `ocrgate eval --manifest` reads.

    manifest.jsonl            one line per corrected page (`ocrgate.evaluate.datasets` fields)
    pages/<id>.png            the page as the engines saw it (lossless)
    truth/<id>.txt            the corrected text (UTF-8)
    outputs/<backend>/<id>.md each engine's page markdown from the job, for reference
    scorecard.json            the job's scorecard when it was exported

Each manifest line: `id`, `source` (the job's name), `doc_type` ("page"), `image`, `gt_text`, plus
`job_id`, `page` (1-based), `name` and `truth_from`, which `ocrgate eval` keeps as extra fields. Unzip and
run `ocrgate eval --manifest DIR/manifest.jsonl --backends ... --out RUN`.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence

from PIL import Image

from ocrgate.jobs.records import JobRecord, PageTruth
from ocrgate.jobs.scorecard import Scorecard, page_name
from ocrgate.render import RenderedPage

MANIFEST = "manifest.jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SUFFIX = re.compile(r"\.(png|jpe?g|tiff?|webp|bmp|pdf)(?=$|#)", re.IGNORECASE)


def page_id(job: JobRecord, index: int) -> str:
    """A page's id in the set: its 1-based number, then its name (without the file's suffix) made safe
    for a file name: `p003-invoice`, `p004-report_2` (page 2 of report.pdf), `p001` for a lone PDF's page."""
    name = page_name(job, index) if job.page_names else ""
    name = _UNSAFE.sub("_", _SUFFIX.sub("", name)).strip("._")[:60]
    return f"p{index + 1:03d}-{name}" if name else f"p{index + 1:03d}"


def png(image: Image.Image) -> bytes:
    """The page image as PNG (lossless; fast compression)."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def export_set(
    job: JobRecord,
    truths: Sequence[PageTruth],
    page_image: Callable[[int], Image.Image],
    pages: Mapping[str, Sequence[RenderedPage]],
    card: Scorecard,
) -> bytes:
    """The zip of the job's corrected pages (see the module doc); `page_image(index)` renders a page."""
    out = io.BytesIO()
    lines: list[str] = []
    by_page = {name: {p.page.index: p for p in rendered} for name, rendered in pages.items()}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for truth in sorted(truths, key=lambda t: t.index):
            pid = page_id(job, truth.index)
            archive.writestr(f"pages/{pid}.png", png(page_image(truth.index)), zipfile.ZIP_STORED)
            archive.writestr(f"truth/{pid}.txt", truth.text)
            for name, rendered in by_page.items():
                if (page := rendered.get(truth.index)) is not None:
                    archive.writestr(f"outputs/{name}/{pid}.md", page.page.markdown)
            entry = {
                "id": pid, "source": job.name, "doc_type": "page",
                "image": f"pages/{pid}.png", "gt_text": f"truth/{pid}.txt",
                "job_id": job.id, "page": truth.index + 1, "name": page_name(job, truth.index),
                "truth_from": truth.backend,
            }  # fmt: skip
            lines.append(json.dumps(entry, ensure_ascii=False))
        archive.writestr(MANIFEST, "".join(line + "\n" for line in lines))
        archive.writestr("scorecard.json", card.model_dump_json(indent=2))
    return out.getvalue()
