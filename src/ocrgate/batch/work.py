"""One input of a batch, read and written: the unit of work a worker process (or this one) does."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocrgate.batch import outputs
from ocrgate.batch.inputs import Input
from ocrgate.batch.readers import Plan, Reader
from ocrgate.documents import Document, open_document
from ocrgate.errors import OCRGateError
from ocrgate.formats import encode
from ocrgate.schema import OCRResponse

#: (pages done, pages in the document) as the document is read
Report = Callable[[int, int], None]
FAILED = "failed: "


@dataclass
class Outcome:
    """What became of one input; `payload` holds the encoded outputs when they go to stdout."""

    name: str
    status: str  # ok | partial | failed | skipped
    pages: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # "page 3: reason", or the file's error
    payload: dict[str, bytes] = field(default_factory=dict)

    def row(self) -> outputs.Row:
        return outputs.Row(
            self.name, self.pages, self.status, round(self.seconds, 3), "; ".join(self.problems)
        )


def failed_pages(response: OCRResponse) -> list[str]:
    """`page N: reason` for each page flagged `failed: <reason>` (numbered from 1)."""
    problems = []
    for page in response.pages:
        reason = next((f.removeprefix(FAILED) for f in page.flags if f.startswith(FAILED)), None)
        if reason is not None:
            problems.append(f"page {page.index + 1}: {reason}")
    return problems


def response_json(response: OCRResponse, boxes: bool, figures: bool, compact: bool = False) -> bytes:
    """The unified JSON without the pictures not asked for: boxes pictures (`boxes`) and the
    figures embedded in `source_markdown` (`figures`)."""
    exclude: dict[str, Any] = {}
    if not boxes:
        exclude |= {"boxes_image": True, "pages": {"__all__": {"boxes_image"}}}
    if not figures:
        exclude["source_markdown"] = True
    return response.model_dump_json(indent=None if compact else 2, exclude=exclude).encode() + b"\n"


def _encoded(response: OCRResponse, fmt: str, document: Document, plan: Plan) -> bytes:
    to_stdout = plan.out is None
    if fmt == "json":  # files get the boxes pictures as PNG files beside the JSON
        return response_json(
            response, to_stdout and plan.boxes != "none", plan.images, to_stdout and plan.compact
        )
    data = encode(response, fmt, document)
    if to_stdout and plan.compact:  # several inputs one after the other: each says where it starts
        return file_header(fmt, document.name) + data
    return data


def file_header(fmt: str, name: str) -> bytes:
    """The line that starts one input's markdown or text among several on stdout: an HTML comment in
    markdown (`<!-- file: NAME -->`, shown by no renderer, as the page separators are), the header
    `head` and `tail` write between files in text (`==> NAME <==`); nothing for other formats."""
    if fmt == "md":
        return f"<!-- file: {name.replace('--', '- -')} -->\n\n".encode()
    if fmt == "txt":
        return f"==> {name} <==\n".encode()
    return b""


def file_separator(fmt: str) -> bytes:
    """What goes before a later input's output among several on stdout: in text the blank line
    `head` and `tail` write before each header but the first; nothing for other formats."""
    return b"\n" if fmt == "txt" else b""


def _pictures(response: OCRResponse, out: Path, item: Input) -> list[tuple[Path, bytes]]:
    """The boxes pictures to write, the last page's first: page 1's, written last, tells a later run
    that they all are (`outputs.is_done`)."""
    count = len(response.pages)
    return [
        (outputs.boxes_path(out, item.stem, page.index + 1, count), page.boxes_image.encode())
        for page in reversed(response.pages)
        if page.boxes_image
    ]


def read_one(item: Input, plan: Plan, reader: Reader, report: Report) -> Outcome:
    """Read `item` with `reader` and write (or return, for stdout) each format of `plan`. Never
    raises for a bad file or a failing backend: the outcome says what went wrong."""
    started = time.perf_counter()
    outcome = Outcome(item.name, "failed")
    try:
        data = item.path.read_bytes()
        document = open_document(data, item.path.name, plan.limits, plan.dpi)
    except OSError as exc:
        outcome.problems = [f"cannot be read: {exc.strerror or exc}"]
    except OCRGateError as exc:
        outcome.problems = [exc.message]
    else:
        try:
            _read(item, plan, reader, report, document, outcome, time.perf_counter() - started)
        except OSError as exc:
            outcome.status, outcome.problems = "failed", [f"cannot write its outputs: {exc}"]
        finally:
            document.close()
    outcome.seconds = time.perf_counter() - started
    if plan.out is not None and outcome.status == "failed":
        with contextlib.suppress(OSError):  # the summary still names the failure
            outputs.save(plan.out, item.stem, [], outcome.problems)
    return outcome


def _read(
    item: Input,
    plan: Plan,
    reader: Reader,
    report: Report,
    document: Document,
    outcome: Outcome,
    decode: float,
) -> None:
    outcome.pages = total = document.page_count
    done = 0

    def on_page() -> None:
        nonlocal done
        done += 1
        report(done, total)

    report(0, total)
    try:
        response = reader.read(document, on_page, decode)
        encoded = {fmt: _encoded(response, fmt, document, plan) for fmt in plan.formats}
    except OCRGateError as exc:
        outcome.problems = [exc.message]
        return
    except Exception as exc:  # a bug must cost this file, not the batch
        outcome.problems = [f"internal error ({type(exc).__name__}: {exc})"]
        return
    outcome.problems = failed_pages(response)
    outcome.status = "partial" if outcome.problems else "ok"
    if plan.out is None:
        outcome.payload = encoded
        return
    files = [(outputs.output_path(plan.out, item.stem, fmt), data) for fmt, data in encoded.items()]
    pictures = _pictures(response, plan.out, item)
    outputs.save(plan.out, item.stem, files + pictures, outcome.problems)
    if plan.boxes != "none":  # the pictures written are this reading's: an older reading's go
        for stale in outputs.other_pictures(plan.out, item.stem, [path for path, _ in pictures]):
            stale.unlink(missing_ok=True)
