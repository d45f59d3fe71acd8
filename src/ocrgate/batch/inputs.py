"""The files a batch reads: files named on the command line, and the documents found in folders.

A folder is walked recursively, in sorted order; a file in it is taken when its first bytes say it
is an image or PDF ocrgate reads (`documents.sniff`), or when its name says it is one
(`DOCUMENT_SUFFIXES`: `.png`, `.pdf`, ...) though its bytes do not: an empty or damaged scan then
fails with its error, a row of the summary, instead of being passed over. Hidden files and folders
(names starting with a dot), the output folder, and the outputs of earlier runs (files an output
folder's record names, wherever they are: `written`) are left out. Files named on the command line
are taken (one that is not a document gets its error), except the outputs of earlier runs.

Each input's outputs go under the output folder at its path relative to the folder it was found in
(a named file: its name alone), without its extension: `scans/2024/a.png` read as `scans` gives
`OUT/2024/a.md`. Two inputs that would share that name keep their extension (`a.png.md`,
`a.pdf.md`); two that would still share it (the same relative path in two folders named) are
refused, the second with an error (`Found.refused`: a failed row of the summary). No output is ever
written over an input: see `outputs.spare_inputs`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from ocrgate.batch.written import EarlierOutputs
from ocrgate.documents import sniff

_HEAD = 1024  # a PDF's header may sit anywhere in its first kilobyte
#: the names of the files ocrgate reads: one found in a folder is taken even when its bytes are not
#: those of its type, so that a damaged or empty scan fails loudly (lowercase, with the dot)
DOCUMENT_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".pdf"})


@dataclass(frozen=True)
class Input:
    """One file to read: where it is, how it is named in messages, and its outputs' path under OUT
    (relative, without extension)."""

    path: Path
    name: str
    stem: PurePath
    named: bool = False  # named on the command line, not found in a folder


@dataclass
class Found:
    inputs: list[Input]
    errors: list[str]  # paths named that do not exist, inputs whose outputs would clash
    ignored: int  # files in folders that are not documents, or outputs (`written`, `outputs.spare_inputs`)
    #: inputs not read because their outputs would replace an input (`outputs.spare_inputs`), with why
    refused: list[tuple[Input, str]] = field(default_factory=list)
    #: files named on the command line that an earlier run wrote (`written`), left out
    earlier_outputs: list[Path] = field(default_factory=list)


def is_document(path: Path) -> bool:
    """Whether the file's first bytes are those of a supported image or PDF."""
    try:
        with path.open("rb") as handle:
            return sniff(handle.read(_HEAD)) is not None
    except OSError:
        return False


def _walk(folder: Path, out: Path | None) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and (out is None or (here / d).resolve() != out)
        )
        for name in sorted(files):
            if not name.startswith("."):
                yield here / name


def find_inputs(paths: Sequence[Path], out: Path | None = None) -> Found:
    """The inputs named by `paths` (files and folders), in order, each once; see the module doc."""
    resolved_out = out.resolve() if out is not None else None
    found = Found([], [], 0)
    # (file, its path relative to what named it, whether it was named itself)
    candidates: list[tuple[Path, PurePath, bool]] = []
    seen: set[Path] = set()
    earlier = EarlierOutputs()
    for path in paths:
        if path.is_dir():
            for file in _walk(path, resolved_out):
                if file not in earlier and (is_document(file) or file.suffix.lower() in DOCUMENT_SUFFIXES):
                    candidates.append((file, file.relative_to(path), False))
                else:
                    found.ignored += 1
        elif path.exists() and path in earlier:
            found.earlier_outputs.append(path)
        elif path.exists():
            candidates.append((path, PurePath(path.name), True))
        else:
            found.errors.append(f"{path}: no such file or folder")
    unique = []
    for file, relative, named in candidates:
        key = file.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((file, relative, named))
    stems = Counter(relative.with_suffix("") for _, relative, _ in unique)
    taken: dict[PurePath, Path] = {}
    for file, relative, named in unique:
        stem = relative if stems[relative.with_suffix("")] > 1 else relative.with_suffix("")
        if stem in taken:
            why = f"its outputs would overwrite those of {taken[stem]}; read it apart"
            found.errors.append(f"{file}: {why}")
            found.refused.append((Input(file, str(file), stem, named), why))
            continue
        taken[stem] = file
        found.inputs.append(Input(file, str(file), stem, named))
    return found
