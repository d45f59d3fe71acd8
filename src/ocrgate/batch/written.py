"""Which files are ocrgate's own outputs: the record an output folder keeps of what was written in it.

Every run with `--out OUT` lists, in `OUT/.ocrgate-outputs` (one JSON line per input, `{"stem": ...}`,
before it writes anything), the output stem of each input it reads: its path under OUT without
extension (`inputs.Input.stem`). A file is an ocrgate output when a folder above it (its own or any
ancestor) holds such a record naming a stem that the file's path, relative to that folder, is the stem
plus an output suffix: a format's extension (`.md`, `.json`, `.txt`, `.alto.xml`, `.hocr`,
`.ocr.pdf`), `.errors.log`, `.boxes.svg` or `.pN.boxes.svg` (`.jpg` from runs before the boxes picture
became SVG); the folder's own `summary.csv` and record are too. Those files are never taken as
inputs, whatever `--out` the later run has: `scans/scan.ocr.pdf` written by
`ocrgate ocr scans --out scans` is not a scan for `ocrgate ocr scans --out elsewhere`.
The record is kept by `outputs.record_stems`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

from ocrgate.formats import FORMATS

RECORD_NAME = ".ocrgate-outputs"
SUMMARY_NAME = "summary.csv"
ERRORS_SUFFIX = ".errors.log"
BOXES_SUFFIX = ".boxes.svg"
#: the boxes picture's suffix before it became SVG: such files from earlier runs are outputs too
EARLIER_BOXES_SUFFIX = ".boxes.jpg"
#: a page's boxes picture of a longer document: `STEM.pN.boxes.svg` (or an earlier run's `.jpg`)
PAGE_BOXES = re.compile(r"(.+)\.p[0-9]+(\.boxes\.(?:svg|jpg))")
#: every suffix an output has after its stem, longest first (`.ocr.pdf` before a shorter one)
SUFFIXES = tuple(
    sorted(
        {f.extension for f in FORMATS.values()} | {ERRORS_SUFFIX, BOXES_SUFFIX, EARLIER_BOXES_SUFFIX},
        key=len,
        reverse=True,
    )
)


def read_record(folder: Path) -> set[str]:
    """The stems (POSIX paths relative to `folder`) that `folder`'s record names; empty without one.
    A line that is not a JSON object with a string `stem` (cut short, edited) is skipped."""
    try:
        text = (folder / RECORD_NAME).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    stems = set()
    for line in text.splitlines():
        try:
            stem = json.loads(line).get("stem")
        except (ValueError, AttributeError):
            continue
        if isinstance(stem, str):
            stems.add(stem)
    return stems


def stem_of(relative: PurePosixPath) -> list[str]:
    """The stems whose output `relative` would be, one per suffix it ends with (`a.ocr.pdf` -> `a`)."""
    name = relative.name
    page_boxes = PAGE_BOXES.fullmatch(name)
    if page_boxes:
        return [str(relative.with_name(page_boxes.group(1)))]
    return [str(relative.with_name(name[: -len(s)])) for s in SUFFIXES if name.endswith(s) and name != s]


class EarlierOutputs:
    """Tells whether a file is an output recorded by an ocrgate run (see the module doc); each folder's
    record is read once."""

    def __init__(self) -> None:
        self._records: dict[Path, set[str]] = {}

    def _record(self, folder: Path) -> set[str]:
        if folder not in self._records:
            self._records[folder] = read_record(folder)
        return self._records[folder]

    def __contains__(self, path: Path) -> bool:
        where = path.resolve()
        for folder in where.parents:
            stems = self._record(folder)
            if not stems:
                continue
            relative = PurePosixPath(where.relative_to(folder).as_posix())
            if str(relative) in (SUMMARY_NAME, RECORD_NAME) or any(s in stems for s in stem_of(relative)):
                return True
        return False
