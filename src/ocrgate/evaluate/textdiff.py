"""An engine's text diffed against the ground truth, as escaped HTML: what CER counts, made visible.

Both texts are normalised as they are scored (`metrics.normalise` with the run's options, but line
breaks kept), split into words, and aligned word by word keeping the most words matched (a longest
common subsequence: rapidfuzz's Indel opcodes). Words of the truth the output lacks are `<del>`, words
the output adds are `<ins>`. Between two matched runs, a misread word close to the right one
(`SIMILAR`) is aligned letter by letter (Levenshtein opcodes), so a misread letter shows as one letter;
otherwise the right word shows deleted and the read one inserted. The output's line breaks are kept,
so the diff reads as the engine's text does. Every piece of text is HTML-escaped.
"""

from __future__ import annotations

import html
import re

from pydantic import BaseModel
from rapidfuzz.distance import Indel, Levenshtein

from ocrgate.evaluate import metrics

_TOKEN = re.compile(r"\S+|\n")
#: a misread word is diffed letter by letter when it is at least this similar to the truth's word
#: (normalised Indel similarity); less similar pairs show as one word deleted and one inserted
SIMILAR = 0.5


class DiffCounts(BaseModel):
    """Words of the alignment: equal, missing from the output, added by it, replaced."""

    equal: int = 0
    missing: int = 0
    extra: int = 0
    replaced: int = 0


def _tokens(text: str) -> tuple[list[str], set[int]]:
    """Words, and the positions of the words a line break follows."""
    words: list[str] = []
    breaks: set[int] = set()
    for token in _TOKEN.findall(text):
        if token == "\n":
            if words:
                breaks.add(len(words) - 1)
        else:
            words.append(token)
    return words, breaks


def _chars(out: str, truth: str) -> str:
    """Character-level diff of a misread word, or the whole words when they hardly share letters."""
    if Indel.normalized_similarity(out, truth) < SIMILAR:
        return f"<del>{html.escape(truth)}</del><ins>{html.escape(out)}</ins>"
    parts = []
    for op in Levenshtein.opcodes(truth, out):
        old, new = truth[op.src_start : op.src_end], out[op.dest_start : op.dest_end]
        if op.tag == "equal":
            parts.append(html.escape(old))
            continue
        if old:
            parts.append(f"<del>{html.escape(old)}</del>")
        if new:
            parts.append(f"<ins>{html.escape(new)}</ins>")
    return "".join(parts)


def diff_html(
    output: str, truth: str, casefold: bool = True, markdown: bool = True
) -> tuple[str, DiffCounts]:
    """`output` against `truth` as HTML (`<del>`/`<ins>` marks, text escaped, `<br>` at the output's
    line breaks) and the word counts of the alignment. Raw texts; they are normalised here."""
    norm = dict(casefold=casefold, collapse_ws=False, markdown=markdown)
    out_words, breaks = _tokens(metrics.normalise(output, **norm))
    truth_words, _ = _tokens(metrics.normalise(truth, **norm))
    counts = DiffCounts()
    parts: list[str] = []

    def emit(html_text: str, position: int | None) -> None:
        parts.append(html_text + " ")
        if position is not None and position in breaks:
            parts.append("<br>")

    def change(old: list[str], new: range) -> None:
        """A run of truth words the output does not have, against the output's words read there."""
        for j in range(max(len(old), len(new))):
            right = old[j] if j < len(old) else None
            read = out_words[new[j]] if j < len(new) else None
            if right is not None and read is not None and Indel.normalized_similarity(read, right) >= SIMILAR:
                counts.replaced += 1
                emit(_chars(read, right), new[j])
                continue
            if right is not None:
                counts.missing += 1
                emit(f"<del>{html.escape(right)}</del>", None)
            if read is not None:
                counts.extra += 1
                emit(f"<ins>{html.escape(read)}</ins>", new[j])

    # Indel (insertions and deletions only) keeps the most words matched; the deletions and
    # insertions between two matched runs are one change, where misread words pair with the right ones
    old: list[str] = []
    new: range | None = None
    for op in Indel.opcodes(truth_words, out_words):
        if op.tag != "equal":
            old += truth_words[op.src_start : op.src_end]
            new = range(new.start if new is not None else op.dest_start, op.dest_end)
            continue
        if new is not None:
            change(old, new)
            old, new = [], None
        counts.equal += op.src_end - op.src_start
        for i in range(op.dest_start, op.dest_end):
            emit(html.escape(out_words[i]), i)
    if new is not None:
        change(old, new)
    return "".join(parts).rstrip(), counts
