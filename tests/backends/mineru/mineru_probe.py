"""Runs INSIDE the test virtualenv with the real mineru 4.0.12 (.venvs/mineru-test); prints JSON.

    python mineru_probe.py openapi                  the real mineru-api app's OpenAPI schema
    python mineru_probe.py render MIDDLE.json       MinerU's own content list, structured content, markdown
    python mineru_probe.py parse FILE [RANGE]       a real tier-flash parse (no model weights needed)
    python mineru_probe.py page-range               stdin [[raw, count], ...] -> MinerU's page selection
    python mineru_probe.py image-page IMAGE         the PDF page MinerU wraps an image into
    python mineru_probe.py fixtures OUT_DIR EVAL    (re)writes tests/fixtures/mineru from the real MinerU
    python mineru_probe.py inprocess FILE SIZES     ocrgate's `inprocess` engine on FILE (PYTHONPATH=src)

Only mineru's own modules do the work; nothing here reimplements MinerU.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

DATA_URI = re.compile(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+")
# PDFs whose real tier-flash output becomes a fixture: (name, path under shared/eval)
FLASH_FIXTURES = [
    ("multi_page", "docling_pdf/pdf/multi_page.pdf"),
    ("code_and_formula", "docling_pdf/pdf/code_and_formula.pdf"),
    ("redp5110_sampled", "docling_pdf/pdf/redp5110_sampled.pdf"),
]
# hand-written middle JSON (the fixture's source of truth) -> the upload it stands for
WRITTEN_FIXTURES = [("phototest", "tesseract_test/images/phototest.png"), ("all_types", None)]


def elide(value: Any) -> Any:
    """Inline images (data URIs, megabytes) replaced by a stub, so fixtures stay small."""
    text = json.dumps(value, ensure_ascii=False)
    return json.loads(DATA_URI.sub("data:image/jpeg;base64,ELIDED", text))


def rendered(middle: Any) -> dict[str, Any]:
    from mineru.render import render_content_list, render_markdown, render_structured_content

    return {
        "content_list": render_content_list(middle),
        "structured_content": render_structured_content(middle),
        "markdown": render_markdown(middle),
    }


def parse(path: str, page_range: str = "") -> dict[str, Any]:
    from mineru.parser import parse as mineru_parse

    result = mineru_parse(path, tier="flash", page_range=page_range)
    return {"middle_json": result.to_dict(), **rendered(result.middle_json)}


def page_ranges(cases: list[list[Any]]) -> list[Any]:
    from mineru.errors import MineruError
    from mineru.parser.page_range import parse_page_range

    out: list[Any] = []
    for raw, count in cases:
        try:
            out.append(parse_page_range(raw, count))
        except MineruError as exc:
            out.append({"error": exc.code})
    return out


def image_page(path: str) -> dict[str, Any]:
    import pypdfium2 as pdfium
    from docvortex.document.pdf import PDFDocument

    pdf = pdfium.PdfDocument(PDFDocument.from_image(Path(path).read_bytes()).bytes)
    page = pdf[0]
    return {"pages": len(pdf), "size": list(page.get_size()), "rotation": page.get_rotation()}


def pixels_sha256(data: bytes) -> str:
    """sha256 of an image's RGB pixels (tests/fakes/mineru_api.py computes the same)."""
    from io import BytesIO

    from PIL import Image

    return hashlib.sha256(Image.open(BytesIO(data)).convert("RGB").tobytes()).hexdigest()


def write_fixtures(out: Path, eval_dir: Path) -> dict[str, Any]:
    """Every fixture file, from the real MinerU: the fake mineru-api serves exactly these."""
    index: dict[str, Any] = {}

    def save(name: str, outputs: dict[str, Any], middle: Any, source: Path | None) -> None:
        (out / f"{name}.structured_content.json").write_text(
            json.dumps(elide(outputs["structured_content"]), ensure_ascii=False, indent=1) + "\n"
        )
        (out / f"{name}.content_list.json").write_text(
            json.dumps(elide(outputs["content_list"]), ensure_ascii=False, indent=1) + "\n"
        )
        (out / f"{name}.md").write_text(DATA_URI.sub("data:image/jpeg;base64,ELIDED", outputs["markdown"]))
        if middle is not None:
            (out / f"{name}.middle.json").write_text(
                json.dumps(elide(middle), ensure_ascii=False, indent=1) + "\n"
            )
        if source is not None:
            entry = {"name": name, "source": str(source.relative_to(eval_dir))}
            index[hashlib.sha256(source.read_bytes()).hexdigest()] = entry
            if source.suffix != ".pdf":  # an image re-encoded (ocr_page sends PNG) has the same pixels
                index["pixels:" + pixels_sha256(source.read_bytes())] = entry

    from mineru.types import MiddleJson

    for name, source in WRITTEN_FIXTURES:
        middle = MiddleJson.from_dict(json.loads((out / f"{name}.middle.json").read_text()))
        save(name, rendered(middle), None, eval_dir / source if source else None)
    for name, source in FLASH_FIXTURES:
        outputs = parse(str(eval_dir / source))
        save(name, outputs, outputs["middle_json"], eval_dir / source)
    (out / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return index


def inprocess(path: str, sizes: list[list[int]]) -> list[dict[str, Any]]:
    from ocrgate.backends.base import WholeFile
    from ocrgate.backends.mineru.backend import MinerUBackend

    backend = MinerUBackend({"engine": "inprocess", "tier": "flash"})
    media = "application/pdf" if path.endswith(".pdf") else "image/png"
    done: list[list[int]] = []
    results = backend.ocr_file(
        WholeFile(Path(path).read_bytes(), media, [tuple(s) for s in sizes]),  # type: ignore[misc]
        backend.parse_options({}),
        progress=lambda d, t: done.append([d, t]),
    )
    return [{"progress": done, "version": backend.engine_version()}, *[r.model_dump() for r in results]]


def main() -> None:
    command, args = sys.argv[1], sys.argv[2:]
    if command == "openapi":
        from mineru.parser.api_server import create_app

        result: Any = create_app(tier="flash").openapi()
    elif command == "render":
        from mineru.types import MiddleJson

        result = rendered(MiddleJson.from_dict(json.loads(Path(args[0]).read_text())))
    elif command == "parse":
        result = parse(args[0], args[1] if len(args) > 1 else "")
    elif command == "page-range":
        result = page_ranges(json.loads(sys.stdin.read()))
    elif command == "image-page":
        result = image_page(args[0])
    elif command == "fixtures":
        result = write_fixtures(Path(args[0]), Path(args[1]))
    elif command == "inprocess":
        result = inprocess(args[0], json.loads(args[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":  # MinerU renders page images in spawned processes
    main()
