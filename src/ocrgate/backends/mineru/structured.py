"""MinerU's `structured_content` (what mineru-api 4.0.12 returns) -> content-list (V1) entries.

mineru-api 4.0.12 offers `markdown`, `middle_json`, `structured_content` and `zip` as outputs, not the
content list: the content list is a rendering of the middle JSON (`mineru.render.render_content_list`).
`structured_content` (`docvortex/render/_internal/structured_content/renderer.py`) is the middle JSON's
page tree with each block's content already rendered to markdown by MinerU, boxes as 0..1 fractions
of the page, captions and footnotes with their own boxes. This module makes from it the entries
MinerU's V1 renderer makes from the same middle JSON (checked against MinerU itself in
tests/backends/mineru/test_mineru_contract.py), with two differences: boxes keep their full precision
(`v * 1000`, where V1 truncates with `int()`), and table/chart bodies are the markdown MinerU rendered
(V1 carries the middle JSON's HTML). Never raises: what it cannot read it passes on for the parser to
flag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ocrgate.backends.mineru.content_list import GRID, four_numbers

# block types whose structured content is already V1's `text`
_TEXT_TYPES = {"text", "header", "footer", "page_number", "aside_text", "page_footnote"}
_TITLE_TYPES = {"doc_title", "paragraph_title"}
_VISUAL_PREFIX = {"table": "table", "image": "image", "chart": "chart", "code": "code"}
_FENCE = re.compile(r"^```[^\n]*\n(?P<body>.*?)\n?```\s*$", re.DOTALL)


def scale_bbox(value: Any) -> list[float] | None:
    """0..1 page fractions -> the content list's 0..1000 grid (to millionths); None when not 4 numbers."""
    numbers = four_numbers(value, GRID)
    return None if numbers is None else [round(n, 6) for n in numbers]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _annotations(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    texts = (_str(item.get("content")) if isinstance(item, Mapping) else "" for item in value)
    return [text for text in texts if text.strip()]


def _list_items(content: str) -> list[str]:
    # V1 flattens nested lists into one item per leaf, markers kept, indentation dropped
    return [line.strip() for line in content.splitlines() if line.strip()]


def _code_body(content: str) -> str:
    match = _FENCE.match(content.strip())
    return match.group("body") if match else content


def block_entry(block: Mapping[str, Any], page_idx: int) -> dict[str, Any]:
    """The V1 entry for one structured-content block (V1's field names, our exact bbox)."""
    kind = block.get("type") if isinstance(block.get("type"), str) else None
    content = _str(block.get("content"))
    entry: dict[str, Any]
    if kind in _TEXT_TYPES:
        entry = {"type": kind, "text": content}
    elif kind in _TITLE_TYPES:
        entry = {"type": "text", "text": content, "text_level": block.get("level")}
    elif kind == "equation":
        entry = {"type": "equation", "img_path": _str(block.get("image_source"))}
        if content.strip():
            entry.update(text=content.strip(), text_format="latex")
    elif kind in ("list", "index"):
        entry = {"type": kind, "list_items": _list_items(content)}
        if kind == "list":
            entry = {"type": "list", "sub_type": block.get("sub_type") or "text", **entry}
    elif kind == "ref_text":
        entry = {"type": "list", "sub_type": "ref_text", "list_items": _list_items(content)}
    elif kind in _VISUAL_PREFIX:
        prefix = _VISUAL_PREFIX[kind]
        entry = {"type": kind}
        if kind != "code":
            entry["img_path"] = _str(block.get("image_source"))
        if kind == "table":
            entry["table_body"] = content
        elif kind == "code":
            entry["sub_type"] = "algorithm" if block.get("sub_type") == "algorithm" else "code"
            entry["code_body"] = _code_body(content)
        elif content:
            entry["content"] = content
        entry[f"{prefix}_caption"] = _annotations(block.get("captions"))
        entry[f"{prefix}_footnote"] = _annotations(block.get("footnotes"))
        if kind in ("image", "chart") and block.get("sub_type"):
            entry["sub_type"] = block.get("sub_type")
    else:
        entry = {key: value for key, value in block.items() if key not in ("bbox", "type")}
        entry["type"] = block.get("type")  # unknown or malformed: the parser decides
    if (bbox := scale_bbox(block.get("bbox"))) is not None:
        entry["bbox"] = bbox
    entry["page_idx"] = page_idx
    return entry


def _is_refs(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("type") == "list"
        and entry.get("sub_type") == "ref_text"
        and isinstance(entry.get("list_items"), list)
        and "page_idx" in entry
    )


def _merge_refs(entries: list[Any]) -> list[Any]:
    """V1 groups consecutive reference blocks of a page into one `ref_text` list with their union box."""
    merged: list[Any] = []
    for entry in entries:
        last = merged[-1] if merged else None
        if last is not None and _is_refs(entry) and _is_refs(last) and last["page_idx"] == entry["page_idx"]:
            last["list_items"] = [*last["list_items"], *entry["list_items"]]
            boxes = [box for box in (last.get("bbox"), entry.get("bbox")) if box is not None]
            if boxes:
                last["bbox"] = [
                    min(b[0] for b in boxes),
                    min(b[1] for b in boxes),
                    max(b[2] for b in boxes),
                    max(b[3] for b in boxes),
                ]
            continue
        merged.append(entry)
    return merged


def content_list_from_structured(structured: Any) -> list[Any]:
    """V1 content-list entries, in reading order, for a whole `structured_content` document."""
    if not isinstance(structured, Mapping) or not isinstance(structured.get("pages"), list):
        return []
    entries: list[Any] = []
    for page in structured["pages"]:
        if not isinstance(page, Mapping) or not isinstance(page.get("blocks"), list):
            entries.append(page)  # the parser counts it as an entry it cannot place
            continue
        page_idx = page.get("page_idx")
        for block in page["blocks"]:
            if isinstance(block, Mapping):
                entries.append(block_entry(block, page_idx))  # type: ignore[arg-type]
            else:
                entries.append({"page_idx": page_idx, "type": None, "value": block})
    return _merge_refs(entries)
