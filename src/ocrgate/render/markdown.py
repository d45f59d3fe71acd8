"""Blocks -> CommonMark: the markdown each block kind contributes, a page's and a document's markdown."""

from __future__ import annotations

from collections.abc import Sequence

from ocrgate.schema import Block

# Page furniture stays in the blocks but not in the reading text.
NOT_IN_MARKDOWN = frozenset({"header", "footer"})


def block_markdown(block: Block) -> str:
    """The markdown one block contributes to its page."""
    text = block.text.strip()
    if block.kind == "title" and text and not text.startswith("#"):
        return "#" * (block.level or 1) + " " + " ".join(text.split())
    if block.kind == "table" and not text and block.html:
        return block.html
    if block.kind == "equation" and text and not text.startswith(("$", "\\[")):
        return f"$$\n{text}\n$$"
    if block.kind == "code" and text and not text.startswith("```"):
        return f"```\n{text}\n```"
    return text


def page_markdown(blocks: Sequence[Block]) -> str:
    """The page's blocks in order, page headers and footers left out, separated by blank lines."""
    parts = (block_markdown(b) for b in blocks if b.kind not in NOT_IN_MARKDOWN)
    return "\n\n".join(p for p in parts if p)


def document_markdown(pages: Sequence[str]) -> str:
    """The pages' markdown in order, separated by blank lines."""
    return "\n\n".join(p for p in pages if p)
