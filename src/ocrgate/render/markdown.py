"""Blocks and plain engine text -> CommonMark (https://spec.commonmark.org/0.31.2/).

Two kinds of text reach the markdown. DeepSeek-OCR and MinerU blocks already carry markdown (tables,
headings, formulas) and go in as they are. The light engines (RapidOCR, Tesseract) give plain text
lines, which `lines_markdown` turns into block markdown that renders as the page reads: every
character CommonMark would take as syntax escaped (`escape_text`), words broken at a line-end hyphen
joined where the joined word is a word (`join_hyphenated`), bullet and numbered lines made list items.
Section numbers (§) below are the spec's.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from functools import cache

from ocrgate.schema import Block

# Page furniture stays in the blocks but not in the reading text.
NOT_IN_MARKDOWN = frozenset({"header", "footer"})

# Anywhere in a line: backslash (§2.4), code spans (§6.1), emphasis (§6.2), links and images (§6.3,
# §6.4), raw HTML and autolinks (§6.5, §6.6, §4.6), entity references (§2.5); GFM tables `|` and
# strikethrough `~` (and `~~~` fences, §4.5); `$` for the math extensions engines' markdown is read with.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<&|~$])")
# At the start of a line: ATX headings (§4.2), block quotes (§5.1), bullet list items (§5.2), setext
# heading underlines (§4.3) and thematic breaks (§4.1) whose first character is not escaped above.
_LINE_START_SPECIAL = frozenset("#>+-=")
_ORDERED_START = re.compile(r"^(\d+)([.)])")  # ordered list item markers (§5.2)
_LINE_ENDING = re.compile(r"\r\n|\r|\n")  # CommonMark's line endings (§2.1), not str.splitlines' set

# Line-start glyphs that mean "list item". The unambiguous ones may touch the text (OCR often drops the
# space); `-`, `*`, `–` and `·` also start ordinary text, so they need white space after them.
_BULLET = re.compile(r"^(?:[•▪●■◦‣○□](?=\s*\S)|[-*–·](?=\s+\S))\s*")
_ENUMERATOR = re.compile(r"^(\d{1,9})([.)])\s+(?=\S)")  # CommonMark allows at most 9 digits
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_LINE_END_HYPHEN = re.compile(r"([^\W\d_]+)[-\u2010]$")
_SOFT_HYPHEN_END = re.compile(r"\u00ad$")
_LEADING_WORD = re.compile(r"^([^\W\d_]+)")
PAGE_SEPARATOR = "<!-- page {number} -->"


def escape_text(text: str) -> str:
    """Plain text escaped so that CommonMark renders exactly that text, line by line.

    Every line is stripped of surrounding white space (CommonMark drops it from paragraph lines,
    §4.8, and four leading spaces would open an indented code block, §4.4; trailing spaces would be
    a hard line break, §6.7). Then the ASCII punctuation CommonMark reads as syntax is backslash-
    escaped (§2.4): anywhere `\\`, backtick, `*`, `_`, `[`, `]`, `<`, `&`, `|`, `~`, `$`; at the start
    of a line `#`, `>`, `+`, `-`, `=` and the `.` or `)` of a leading number (`1.` / `1)`). Only
    U+0000 does not come back: CommonMark replaces it with U+FFFD (§2.3).
    """
    return "\n".join(_escape_line(line.strip()) for line in _LINE_ENDING.split(text))


def _escape_line(line: str) -> str:
    line = _INLINE_SPECIAL.sub(r"\\\1", line)
    if line[:1] in _LINE_START_SPECIAL:
        return "\\" + line
    return _ORDERED_START.sub(r"\1\\\2", line, count=1)


@cache
def _dictionary() -> Collection[str]:
    """The English word list of pyspellchecker (lower case, about 160,000 words).

    pyspellchecker's list is built from OpenSubtitles 2018 word counts, cleaned of misspellings and
    foreign words; it holds words and their inflections, no hyphenated compounds. Imported here, not
    at the top: it takes about a second to load, and only plain engine text needs it.
    """
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1).word_frequency.dictionary


def join_hyphenated(lines: Sequence[str], vocabulary: Collection[str] = ()) -> list[str]:
    """Lines with words broken by a line-end hyphen joined, where it is sure the break was typesetting.

    A line ending in letters + `-` (or U+2010) and a next line starting with letters: if the
    hyphenated form (`well-known`) is written elsewhere in `lines` or `vocabulary` (lower case), the
    line break goes and the hyphen stays. Otherwise, if the next line goes on in lower case (or both
    halves are capitals) and the joined word is a word (`explain` from `ex-` / `plain`), the hyphen
    goes too. A word is one in pyspellchecker's English word list (an English dictionary; other
    languages' words are joined only on the strength of `lines` and `vocabulary`) or written in
    `lines` / `vocabulary` unbroken: the text's own vocabulary knows its names and terms, the way
    calibre's de-hyphenation does. Anything else stays as it was: `well-` / `known` keeps its hyphen
    and its line break, since `wellknown` is no word and nothing shows `well-known` is. A soft hyphen
    (U+00AD) at a line end always joins: it only ever marks a break.
    """
    known = {word.casefold() for line in lines for word in _WORD.findall(line)}
    known.update(word.casefold() for word in vocabulary)
    joined: list[str] = []
    for line in lines:
        if joined and (merged := _join(joined[-1], line, known)) is not None:
            joined[-1] = merged
        else:
            joined.append(line)
    return joined


def _join(line: str, following: str, known: Collection[str]) -> str | None:
    """`line` and `following` as one line when `line` ends in a word broken by a hyphen, else None."""
    if _SOFT_HYPHEN_END.search(line):
        return line[:-1] + following
    end, start = _LINE_END_HYPHEN.search(line), _LEADING_WORD.match(following)
    if end is None or start is None:
        return None
    head, tail = end.group(1), start.group(1)
    if f"{head}-{tail}".casefold() in known:
        return line[:-1] + "-" + following
    same_word = tail[0].islower() or (head.isupper() and tail.isupper())
    word = (head + tail).casefold()
    if same_word and (word in known or word in _dictionary()):
        return line[:-1] + following
    return None


def lines_markdown(lines: Sequence[str]) -> str:
    """One paragraph's plain text lines (an engine's, top to bottom) as block markdown.

    Blank lines dropped, white space around each line stripped, broken words joined
    (`join_hyphenated`), then: a line starting with a bullet glyph (•, ·, ▪, ●, ■, ◦, ‣, ○, □, and
    `-`, `*`, `–` followed by a space) becomes a bullet list item `- …`; one starting with a number and
    `.` or `)` an ordered item `1. …` (§5.2), when it can be one: the paragraph's first line, a `1`,
    or the number after the previous item's (CommonMark numbers items itself, so `1.` then `3.` would
    render as 1, 2). Lines after an item without a bullet are kept in that item (indented under it,
    §5.2). Everything else is escaped text (`escape_text`), lines joined by line breaks that render as
    spaces (§6.8).
    """
    pieces = (piece.strip() for line in lines for piece in _LINE_ENDING.split(line))
    clean = join_hyphenated([piece for piece in pieces if piece])
    out: list[str] = []
    indent = ""  # the indentation of the list item being continued; "" outside a list
    number: int | None = None  # the previous ordered item's number
    for position, line in enumerate(clean):
        if (bullet := _BULLET.match(line)) is not None:
            out.append("- " + escape_text(line[bullet.end() :]))
            indent, number = "  ", None
            continue
        enumerator = _ENUMERATOR.match(line)
        if enumerator is not None:
            value = int(enumerator.group(1))
            if position == 0 or value == 1 or (number is not None and value == number + 1):
                marker = f"{value}{enumerator.group(2)} "
                out.append(marker + escape_text(line[enumerator.end() :]))
                indent, number = " " * len(marker), value
                continue
        out.append(indent + escape_text(line))
    return "\n".join(out)


def block_markdown(block: Block) -> str:
    """The markdown one block contributes to its page. An equation is LaTeX in `$$` where an engine
    wrote it; one that carries the engine's text lines (a light engine read it as text) stays text."""
    text = block.text.strip()
    if block.kind == "title" and text and not text.startswith("#"):
        return "#" * (block.level or 1) + " " + " ".join(text.split())
    if block.kind == "table" and not text and block.html:
        return block.html
    if block.kind == "equation" and text and not block.lines and not text.startswith(("$", "\\[")):
        return f"$$\n{text}\n$$"
    if block.kind == "code" and text and not text.startswith("```"):
        return f"```\n{text}\n```"
    return text


def page_markdown(blocks: Sequence[Block]) -> str:
    """The page's blocks in order, page headers and footers left out, separated by blank lines."""
    parts = (block_markdown(b) for b in blocks if b.kind not in NOT_IN_MARKDOWN)
    return "\n\n".join(p for p in parts if p)


def document_markdown(pages: Iterable[tuple[int, str]]) -> str:
    """The pages' markdown, given as (page index from 0, markdown) in order, with a separator between.

    Before every page but the first: `<!-- page N -->` (N counted from 1), on its own between blank
    lines. It is an HTML comment, an HTML block of type 2 (§4.6): CommonMark renderers pass it
    through and browsers show nothing, while a program finds page N's start by that exact line.
    A thematic break (`---`, §4.1) would show a rule and could not be told from the rules engines
    write themselves. The separator stands even before an empty page, so the numbers stay right.
    """
    parts: list[str] = []
    for position, (index, markdown) in enumerate(pages):
        if position:
            parts.append(PAGE_SEPARATOR.format(number=index + 1))
        if markdown:
            parts.append(markdown)
    return "\n\n".join(parts)
