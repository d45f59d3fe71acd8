"""What a batch writes under its output folder, written so that a later run can trust it.

Per input `STEM` (see `inputs`): one file per format asked for (`STEM.json`, `STEM.md`,
`STEM.alto.xml`, ...; extensions from `ocrgate.formats.FORMATS`), the boxes pictures when asked
(`STEM.boxes.svg`, or `STEM.pN.boxes.svg` per page of a longer document), and, while any of its
pages failed, `STEM.errors.log` naming them. Every file is written under a temporary name in its
folder and renamed into place (`os.replace`, atomic on POSIX), so a file with its final name is
complete. An input is done when every asked-for output exists and it has no errors log: a run that
stopped half-way, or a document with failed pages, is read again by the next run. `summary.csv`
holds one row per input of the last run; `.ocrgate-outputs` the stem of every input ever read into
OUT, so that no later run takes these files for inputs (`written`).
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path, PurePath

from ocrgate.batch.inputs import Found, Input
from ocrgate.batch.written import (
    BOXES_SUFFIX,
    ERRORS_SUFFIX,
    PAGE_BOXES,
    RECORD_NAME,
    SUMMARY_NAME,
    read_record,
)
from ocrgate.formats import FORMATS


def _sibling(out: Path, stem: PurePath, suffix: str) -> Path:
    return out / stem.parent / (stem.name + suffix)


def output_path(out: Path, stem: PurePath, fmt: str) -> Path:
    return _sibling(out, stem, FORMATS[fmt].extension)


def errors_path(out: Path, stem: PurePath) -> Path:
    return _sibling(out, stem, ERRORS_SUFFIX)


def boxes_path(out: Path, stem: PurePath, page: int, pages: int) -> Path:
    """The boxes picture of page `page` (counted from 1) of a `pages`-page document (an SVG file)."""
    return _sibling(out, stem, BOXES_SUFFIX if pages == 1 else f".p{page}{BOXES_SUFFIX}")


def other_pictures(out: Path, stem: PurePath, kept: Iterable[Path]) -> list[Path]:
    """The boxes pictures of `stem` under `out` (`STEM.boxes.svg`, `STEM.pN.boxes.svg`) other than
    `kept`: an earlier reading's, which a run that writes pictures removes (`--boxes all`, then
    `first`, left pages 2..N of the older reading beside page 1 of the new)."""
    keep = {path.resolve() for path in kept}
    found = []
    for path in (out / stem.parent).glob(glob.escape(stem.name) + ".*"):
        page = PAGE_BOXES.fullmatch(path.name)
        mine = page is not None and page.group(1) == stem.name and page.group(2) == BOXES_SUFFIX
        if (mine or path.name == stem.name + BOXES_SUFFIX) and path.resolve() not in keep:
            found.append(path)
    return found


def written_paths(out: Path, stem: PurePath, formats: Iterable[str]) -> list[Path]:
    """What a run may write for one input: a file per format, the errors log, the boxes picture of a
    one-page document (a longer one's `STEM.pN.boxes.svg` are told by their names)."""
    pictures_and_log = [errors_path(out, stem), boxes_path(out, stem, 1, 1)]
    return [output_path(out, stem, f) for f in formats] + pictures_and_log


def spare_inputs(found: Found, out: Path, formats: Iterable[str]) -> Found:
    """`found` without any input that the run would write over (`written_paths` under `out`).

    Such a file is, most often, an output of an earlier run into the folder being read (`scan.ocr.pdf`
    beside `scan.pdf`): found in a folder, it is left out (counted as ignored). Named on the command
    line, or the input's own output (a PNG named `notes.md`), it is kept as it is and the input whose
    output it would be is refused with an error (`found.refused`: a failed row of the run's summary), so
    no output ever replaces an input.
    """
    formats = tuple(formats)
    writers = {
        path.resolve(): item for item in found.inputs for path in written_paths(out, item.stem, formats)
    }
    refused: set[Input] = set()
    left_out: set[Input] = set()
    for item in found.inputs:
        where = item.path.resolve()
        page_boxes = PAGE_BOXES.fullmatch(where.name)
        writer = writers.get(where.with_name("".join(page_boxes.groups())) if page_boxes else where)
        if writer is None:
            continue
        if writer is item or item.named:
            refused.add(writer)
            why = f"its output would be written over {item.path}, an input of this run; use another --out"
            found.errors.append(f"{writer.path}: {why}")
            found.refused.append((writer, why))
        else:
            left_out.add(item)
    found.inputs = [item for item in found.inputs if item not in refused and item not in left_out]
    found.ignored += len(left_out)
    return found


def record_stems(out: Path, stems: Iterable[PurePath]) -> None:
    """Add `stems` to `OUT/.ocrgate-outputs`, the record that keeps later runs from reading these
    outputs as inputs (`written`); rewritten atomically, and only when it gains a stem."""
    known = read_record(out)
    wanted = known | {PurePath(stem).as_posix() for stem in stems}
    if wanted != known:
        lines = "".join(json.dumps({"stem": stem}) + "\n" for stem in sorted(wanted))
        write_atomic(out / RECORD_NAME, lines.encode())


def is_done(
    out: Path,
    stem: PurePath,
    formats: Iterable[str],
    boxes: str = "none",
    pages: Callable[[], int] = lambda: 0,
) -> bool:
    """Every output in `formats` is there, no page of the input is known to have failed, and the boxes
    pictures `boxes` asks for are there: with `first` page 1's, with `all` every page's too (`pages()`
    counts the document's pages, called only for a document read before with pictures of several pages).

    Pictures are written last page first, page 1's last (`work.read_one`), so page 1's tells that a run
    finished writing them, and the last page's that it wrote them all (`--boxes first`, then `all`,
    reads the input again)."""
    if errors_path(out, stem).exists() or not all(output_path(out, stem, f).is_file() for f in formats):
        return False
    if boxes == "none" or boxes_path(out, stem, 1, 1).is_file():
        return True
    if not boxes_path(out, stem, 1, 2).is_file():
        return False
    count = pages() if boxes == "all" else 0
    return count < 2 or boxes_path(out, stem, count, count).is_file()


def write_atomic(path: Path, data: bytes) -> None:
    """`data` into `path`: written to a temporary file beside it, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("xb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save(out: Path, stem: PurePath, files: Sequence[tuple[Path, bytes]], problems: Sequence[str]) -> None:
    """One input's outputs, in an order that never leaves it looking done when it is not: with
    `problems`, the errors log first; without, the outputs first, then any old errors log removed."""
    log = errors_path(out, stem)
    if problems:
        write_atomic(log, "".join(f"{line}\n" for line in problems).encode())
    for path, data in files:
        write_atomic(path, data)
    if not problems:
        log.unlink(missing_ok=True)


@dataclass
class Row:
    """One input in `summary.csv`: status `ok`, `partial` (some pages failed), `failed` or `skipped`
    (done by an earlier run); seconds of wall clock; the error, or the failed pages' reasons."""

    path: str
    pages: int
    status: str
    seconds: float
    error: str = ""


COLUMNS = tuple(field.name for field in fields(Row))


def read_summary(out: Path) -> dict[str, Row]:
    """The rows of the previous run's `summary.csv`, by input path (empty when there is none)."""
    try:
        text = (out / SUMMARY_NAME).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    rows = {}
    for record in csv.DictReader(io.StringIO(text)):
        try:
            row = Row(
                record["path"], int(record["pages"] or 0), record["status"], float(record["seconds"] or 0)
            )
        except (KeyError, TypeError, ValueError):
            continue
        row.error = record.get("error") or ""
        rows[row.path] = row
    return rows


def write_summary(out: Path, rows: Iterable[Row]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**asdict(row), "seconds": f"{row.seconds:.3f}"})
    path = out / SUMMARY_NAME
    write_atomic(path, buffer.getvalue().encode())
    return path
