"""How much the engines of a comparison agree, and on which pages there is nothing to compare.

A PDF page taken from its own text layer (`ocrgate.textlayer`, `text_layer=auto` or `only`) was read by
no engine: every backend of a comparison gets the same text, so their agreement there says nothing about
the engines. Such pages (`text_layer_pages`) are left out of the agreement; the web client labels them
by the same rule.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping

from rapidfuzz.distance import Levenshtein

from ocrgate.render.markdown import document_markdown
from ocrgate.schema import Agreement, OCRResponse, Page

#: flags of a page taken from the text layer with no text in it (`text_layer=only`; `ocrgate.flow`)
LAYER_ONLY_FLAGS = frozenset({"text_layer_none", "text_layer_garbled", "text_layer_hidden"})


def from_text_layer(page: Page) -> bool:
    """Whether `page` is the PDF's text layer alone, no engine having read any of it.

    True when it has blocks and every one's `origin` is `text_layer`, or (`text_layer=only` on a page
    without a usable layer) no block and a `text_layer_none` / `_garbled` / `_hidden` flag. False for a
    failed page and for one flagged `text_layer_partial` (the engine read its pictures).
    """
    if any(flag == "text_layer_partial" or flag.startswith("failed") for flag in page.flags):
        return False
    if page.blocks:
        return all(block.origin == "text_layer" for block in page.blocks)
    return any(flag in LAYER_ONLY_FLAGS for flag in page.flags)


def text_layer_pages(results: Mapping[str, OCRResponse]) -> list[int]:
    """The 0-based pages that every backend of `results` which has them took from the text layer
    (`from_text_layer`): no engine read them. Sorted."""
    seen: dict[int, bool] = {}
    for result in results.values():
        for page in result.pages:
            if any(flag.startswith("failed") for flag in page.flags):
                continue
            seen[page.index] = seen.get(page.index, True) and from_text_layer(page)
    return sorted(index for index, layer in seen.items() if layer)


def _text(result: OCRResponse, skip: Collection[int]) -> str:
    if not skip:
        return " ".join(result.markdown.split())
    kept = ((page.index, page.markdown) for page in result.pages if page.index not in skip)
    return " ".join(document_markdown(kept).split())


def agreement(results: Mapping[str, OCRResponse], skip: Collection[int] = ()) -> list[Agreement]:
    """Pairwise normalised edit similarity (0..1, 1 = same text; rapidfuzz's Levenshtein) of the
    backends' markdown, white space collapsed, leaving out the pages in `skip` (0-based; by
    `OCRResponse.pages`). Empty when `skip` leaves no page of any backend."""
    if skip and not any(page.index not in skip for result in results.values() for page in result.pages):
        return []
    texts = {name: _text(result, skip) for name, result in results.items()}
    return [
        Agreement(a=a, b=b, similarity=round(Levenshtein.normalized_similarity(texts[a], texts[b]), 4))
        for a, b in itertools.combinations(texts, 2)
    ]
