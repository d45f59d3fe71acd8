"""Evaluation pages from a manifest (`manifest.jsonl`) or from a plain folder, as one `EvalPage` model.

Manifest: one JSON object a line; paths are relative to the manifest's folder. Fields read here:
`id` (unique), `source` (dataset or folder the page comes from), `doc_type`, `language`, `image` (the page
image), `pdf` + `pdf_page` (the page as a PDF; which of the two is read is `choose_input`'s answer to
`--input`), `gt_text` (a plain-text file of the page's text), `gt_markdown` (a markdown file, used when
there is no `gt_text`), `gt_tests` (a JSONL file of olmOCR-Bench unit tests), `gt_html` (an HTML file of
the page's table, the truth TEDS is measured against). A page needs `image` or `pdf`, and `gt_text`,
`gt_markdown` or `gt_tests`.
Other fields (licence, origin, sizes...) are kept in `extra`.

Plain folder: every image or PDF (searched recursively) with a `.txt` or `.md` file of the same stem beside
it; `source` is the subfolder's name (the folder's own name at the top level), `doc_type` is `image` or
`pdf`. Files without ground truth are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}
#: `--input`: `auto` reads the PDF where a page has one (what a user of a born-digital or scanned PDF
#: sends), else the image; `image` the image where there is one; `pdf` only pages that have a PDF.
InputMode = Literal["auto", "image", "pdf"]
#: the file a page was read from
PageInput = Literal["image", "pdf"]
_KNOWN = {
    "id",
    "source",
    "doc_type",
    "language",
    "image",
    "pdf",
    "pdf_page",
    "gt_text",
    "gt_markdown",
    "gt_html",
}


class EvalPage(BaseModel):
    """One page to recognise and what it should read."""

    id: str
    source: str = "default"
    doc_type: str = "page"
    language: str | None = None
    image: Path | None = None
    pdf: Path | None = None
    pdf_page: int | None = Field(default=None, description="1-based page of `pdf`")
    gt_text: str | None = Field(default=None, description="the page's expected text")
    gt_tests: list[dict[str, Any]] = Field(default_factory=list, description="olmOCR-Bench unit tests")
    gt_html: str | None = Field(default=None, description="the page's table as HTML (TEDS truth)")
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def input_path(self) -> Path:
        """The file that is read: the image, else the PDF (`as_input` keeps only the chosen one)."""
        path = self.image or self.pdf
        if path is None:
            raise ValueError(f"page {self.id} has neither image nor pdf")
        return path

    @property
    def input(self) -> PageInput:
        """Which file `input_path` is."""
        return "image" if self.image is not None else "pdf"

    def as_input(self, kind: PageInput) -> EvalPage:
        """This page with only its `kind` file, so `input_path` is that file; ValueError if it has none."""
        if (kind == "pdf" and self.pdf is None) or (kind == "image" and self.image is None):
            raise ValueError(f"page {self.id} has no {kind}")
        return self.model_copy(update={"pdf": None} if kind == "image" else {"image": None})


def choose_input(page: EvalPage, mode: InputMode) -> PageInput | None:
    """The file `page` is read from under `mode` (see `InputMode`); None when `mode` is `pdf` and the page
    has no PDF (such pages are left out of the run)."""
    if mode == "image":
        return page.input
    if page.pdf is not None:
        return "pdf"
    return None if mode == "pdf" else "image"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _read_tests(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _read(path).splitlines() if line.strip()]


def load_manifest(path: Path) -> list[EvalPage]:
    """Every page of a manifest.jsonl, in file order; ValueError on a malformed line."""
    root = path.parent
    pages: list[EvalPage] = []
    seen: set[str] = set()
    for number, line in enumerate(_read(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            page_id = str(entry["id"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a manifest entry ({exc})") from exc
        if page_id in seen:
            raise ValueError(f"{path}:{number}: duplicate id {page_id!r}")
        seen.add(page_id)
        truth_file = entry.get("gt_text") or entry.get("gt_markdown")
        tests_file = entry.get("gt_tests")
        if not (entry.get("image") or entry.get("pdf")) or not (truth_file or tests_file):
            raise ValueError(f"{path}:{number}: {page_id} needs image or pdf, and ground truth")
        pages.append(
            EvalPage(
                id=page_id,
                source=entry.get("source") or "default",
                doc_type=entry.get("doc_type") or "page",
                language=entry.get("language"),
                image=root / entry["image"] if entry.get("image") else None,
                pdf=root / entry["pdf"] if entry.get("pdf") else None,
                pdf_page=entry.get("pdf_page"),
                gt_text=_read(root / truth_file) if truth_file else None,
                gt_tests=_read_tests(root / tests_file) if tests_file else [],
                gt_html=_read(root / entry["gt_html"]) if entry.get("gt_html") else None,
                extra={k: v for k, v in entry.items() if k not in _KNOWN},
            )
        )
    return pages


def load_folder(folder: Path) -> list[EvalPage]:
    """Images and PDFs with a same-stem `.txt` (preferred) or `.md` beside them."""
    pages: list[EvalPage] = []
    for path in sorted(folder.rglob("*")):
        suffix = path.suffix.lower()
        if not path.is_file() or (suffix not in IMAGE_SUFFIXES and suffix != ".pdf"):
            continue
        truth = next((t for t in (path.with_suffix(".txt"), path.with_suffix(".md")) if t.is_file()), None)
        if truth is None:
            continue
        relative = path.relative_to(folder)
        is_pdf = suffix == ".pdf"
        pages.append(
            EvalPage(
                id=relative.with_suffix("").as_posix().replace("/", "__"),
                source=relative.parts[0] if len(relative.parts) > 1 else folder.name,
                doc_type="pdf" if is_pdf else "image",
                image=None if is_pdf else path,
                pdf=path if is_pdf else None,
                gt_text=_read(truth),
            )
        )
    return pages


def load_dataset(path: Path) -> list[EvalPage]:
    """A manifest file, a folder holding `manifest.jsonl`, or a plain folder."""
    if path.is_file():
        return load_manifest(path)
    if (path / "manifest.jsonl").is_file():
        return load_manifest(path / "manifest.jsonl")
    if path.is_dir():
        return load_folder(path)
    raise FileNotFoundError(f"no dataset at {path}")
