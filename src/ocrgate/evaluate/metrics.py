"""Text metrics (CER, WER, word-bag F1, OmniDocBench NED) and olmOCR-Bench unit tests, as pure functions.

Definitions (``normalise`` runs first on both sides unless said otherwise; with ``markdown=True`` it also
joins words broken at a line-end hyphen by the renderer's own rule, ``render.join_hyphenated``, on both
sides, so a ground truth kept in typeset lines, `ex-` / `plain`, neither favours nor penalises an output
that joined them):

- CER = Levenshtein distance over characters / length of the normalised ground truth (can exceed 1).
- WER = word-level Levenshtein distance / number of ground-truth words (jiwer).
- word-bag F1: the texts as multisets of words (runs of letters/digits, punctuation dropped), order
  ignored; precision = shared / output words, recall = shared / truth words.
- NED (OmniDocBench's "Edit_dist"): Levenshtein distance / max(len(output), len(truth)), in 0..1, on
  OmniDocBench's own text normalisation: images and markdown fences removed, runs of repeated symbols
  shortened, then every character that is not a word character dropped (``clean_string``: white space and
  punctuation go, case is kept). OmniDocBench matches blocks before scoring; we score the whole page as
  one block, which is what its text metric gives for a page that is one paragraph.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any

import jiwer
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from ocrgate.render.markdown import join_hyphenated

# a backslash before ASCII punctuation is an escape (CommonMark 0.31.2, section 2.4): the character itself
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_MD_FENCE = re.compile(r"^```\w*\s*$", re.MULTILINE)
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", re.MULTILINE)
_HTML_TAG = re.compile(r"<[^>]+>")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


def strip_markdown(text: str) -> str:
    """Markdown syntax out, words in: escapes, images, heading marks, fences, table rules, pipes, bold, tags.

    Backslash escapes go first (`\\#` -> `#`), so escaped plain text (`render.escape_text`) scores
    exactly as the engine's unescaped text does.
    """
    text = _MD_ESCAPE.sub(r"\1", text)
    text = _MD_IMAGE.sub(" ", text)
    text = _MD_FENCE.sub(" ", text)
    text = _MD_TABLE_RULE.sub(" ", text)
    text = _MD_HEADING.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _HTML_TAG.sub(" ", text)
    text = text.replace("$$", " ")
    return re.sub(r"\s*\|\s*", " ", text)


def normalise(text: str, casefold: bool = True, collapse_ws: bool = True, markdown: bool = False) -> str:
    """NFC, optionally markdown syntax removed, case folded and white space collapsed to single spaces.

    `markdown`: the text as it reads, not as it is written: markdown syntax out (`strip_markdown`), each
    line stripped, words broken at a line-end hyphen joined (`join_hyphenated`).
    """
    text = unicodedata.normalize("NFC", text or "")
    if markdown:
        text = "\n".join(join_hyphenated([line.strip() for line in strip_markdown(text).split("\n")]))
    if casefold:
        text = text.casefold()
    if collapse_ws:
        text = " ".join(text.split())
    return text


def cer(output: str, truth: str) -> float:
    """Character error rate on already normalised strings; 0 or 1 when the truth is empty."""
    if not truth:
        return 0.0 if not output else 1.0
    return Levenshtein.distance(output, truth) / len(truth)


def wer(output: str, truth: str) -> float:
    """Word error rate (jiwer) on already normalised strings; 0 or 1 when the truth has no words."""
    if not truth.split():
        return 0.0 if not output.split() else 1.0
    if not output.split():
        return 1.0
    return float(jiwer.wer(truth, output))


_WORD = re.compile(r"\w+")


def word_bag_f1(output: str, truth: str) -> float:
    """F1 of the two multisets of words (runs of word characters, punctuation dropped; order-free);
    1 when both are empty."""
    out, ref = Counter(_WORD.findall(output)), Counter(_WORD.findall(truth))
    if not out and not ref:
        return 1.0
    shared = sum((out & ref).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / sum(out.values()), shared / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def omnidoc_normalise(text: str) -> str:
    """OmniDocBench's text normalisation (see module docstring)."""
    text = _MD_IMAGE.sub("", text or "")
    text = re.sub(r"^```(markdown)?\n?", "", text, flags=re.MULTILINE)
    text = re.sub(r"```\n?$", "", text, flags=re.MULTILINE)
    text = re.sub(r"_{4,}", "____", text)
    text = re.sub(r"([^a-zA-Z0-9])\1{10,}", r"\1\1\1\1", text)
    return re.sub(r"[^\w]", "", text)


def ned(output: str, truth: str) -> float:
    """OmniDocBench normalised edit distance of raw texts (they are normalised here), 0 = identical."""
    a, b = omnidoc_normalise(output), omnidoc_normalise(truth)
    if not a and not b:
        return 0.0
    return Levenshtein.distance(a, b) / max(len(a), len(b))


# ---------------------------------------------------------------- olmOCR-Bench unit tests

_OLMOCR_REPLACEMENTS = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "＿": "_",
    "–": "-",
    "—": "-",
    "‑": "-",
    "‒": "-",
    "−": "-",
    "\u00b5": "\u03bc",
}


def olmocr_normalise(text: str) -> str:
    """olmOCR-Bench text normalisation: <br> to space, bold/italic marks and <b>/<i> out, white space
    collapsed, NFC, typographic quotes and dashes to ASCII."""
    text = re.sub(r"<br\s*/?>", " ", text or "")
    text = re.sub(r"(\*\*|__)(.*?)\1", r"\2", text)
    text = re.sub(r"</?[bi]>", "", text)
    text = re.sub(r"(\*|_)(.*?)\1", r"\2", text)
    text = re.sub(r"\s+", " ", text)
    text = unicodedata.normalize("NFC", text)
    for fancy, plain in _OLMOCR_REPLACEMENTS.items():
        text = text.replace(fancy, plain)
    return text


def _threshold(max_diffs: int, length: int) -> float:
    return 1.0 - max_diffs / (length or 1)


def check_presence(test: dict[str, Any], content: str) -> tuple[bool, str]:
    """`present` / `absent`: fuzzy substring match (rapidfuzz partial_ratio) allowing `max_diffs` edits,
    optionally within the first `first_n` / last `last_n` characters, optionally case-insensitive."""
    query = olmocr_normalise(test["text"])
    max_diffs = int(test.get("max_diffs", 0))
    content = olmocr_normalise(content)
    if not test.get("case_sensitive", True):
        query, content = query.lower(), content.lower()
    first_n, last_n = test.get("first_n"), test.get("last_n")
    if first_n and last_n:
        content = content[:first_n] + content[-last_n:]
    elif first_n:
        content = content[:first_n]
    elif last_n:
        content = content[-last_n:]
    present = test["type"] == "present"
    if len(content) < len(query) - max_diffs:  # too short to hold the text at all
        return (False, "output too short") if present else (True, "")
    ratio = fuzz.partial_ratio(query, content) / 100.0
    found = ratio >= _threshold(max_diffs, len(query))
    if found == present:
        return True, ""
    return False, f"{'not found' if present else 'found'}: {query[:40]!r} (best ratio {ratio:.2f})"


def _near_matches(needle: str, haystack: str, max_diffs: int) -> list[int]:
    """Start offsets where `needle` occurs in `haystack` with at most `max_diffs` edits."""
    if max_diffs == 0:
        return [m.start() for m in re.finditer(re.escape(needle), haystack)]
    starts: list[int] = []
    n = len(needle)
    for size in range(max(1, n - max_diffs), n + max_diffs + 1):
        for start in range(0, max(0, len(haystack) - size) + 1):
            window = haystack[start : start + size]
            if Levenshtein.distance(needle, window, score_cutoff=max_diffs) <= max_diffs:
                starts.append(start)
    return sorted(set(starts))


def check_order(test: dict[str, Any], content: str) -> tuple[bool, str]:
    """`order`: some occurrence of `before` starts before some occurrence of `after` (`max_diffs` edits)."""
    content = olmocr_normalise(content)
    before, after = olmocr_normalise(test["before"]), olmocr_normalise(test["after"])
    max_diffs = int(test.get("max_diffs", 0))
    before_at = _near_matches(before, content, max_diffs)
    after_at = _near_matches(after, content, max_diffs)
    if not before_at:
        return False, f"'before' not found: {before[:40]!r}"
    if not after_at:
        return False, f"'after' not found: {after[:40]!r}"
    if min(before_at) < max(after_at):
        return True, ""
    return False, "'before' comes after 'after'"


def check_baseline(test: dict[str, Any], content: str) -> tuple[bool, str]:
    """`baseline`: with `max_length`, at most that many alphanumerics (blank page); otherwise some
    alphanumeric text, no 1..5-character n-gram repeated more than `max_repeats` (30) times at the end,
    and no CJK or emoji characters."""
    alnum = sum(1 for c in content if c.isalnum())
    if test.get("max_length") is not None:
        ok = alnum <= int(test["max_length"])
        return ok, "" if ok else f"{alnum} characters on a page expected blank"
    if alnum == 0:
        return False, "no alphanumeric text"
    text = re.sub(r"\s+", " ", content)
    max_repeats = int(test.get("max_repeats", 30))
    for size in range(1, 6):
        if len(text) < size:
            break
        target, count, pos = text[-size:], 0, len(text) - size
        while pos >= 0 and text[pos : pos + size] == target:
            count, pos = count + 1, pos - size
        if count > max_repeats:
            return False, f"ends with {count} repeats of a {size}-gram"
    if test.get("check_disallowed_characters", True) and re.search(
        "[\u4e00-\u9fff\u3040-\u309f\u30a0-\u30ff\U0001f300-\U0001f6ff\U0001f1e0-\U0001f1ff]", content
    ):
        return False, "disallowed characters (CJK or emoji)"
    return True, ""


_MATH_DELIMITED = (
    re.compile(r"\\\((.+?)\\\)", re.DOTALL),
    re.compile(r"\\\[(.+?)\\\]", re.DOTALL),
    re.compile(r"\$\$(.+?)\$\$", re.DOTALL),
    re.compile(r"\$(.+?)\$", re.DOTALL),
)
_LATEX_NOISE = re.compile(
    r"\\(left|right|big|Big|bigg|Bigg|displaystyle|mathrm|mathbf|mathit|operatorname|text|,|;|!|quad|qquad)"
    r"(?![a-zA-Z])"
)


def latex_key(latex: str) -> str:
    """A loose canonical form of a LaTeX formula: sizing/font macros, braces and spaces removed."""
    text = _LATEX_NOISE.sub("", latex)
    return re.sub(r"[\s{}]", "", text)


def check_math(test: dict[str, Any], content: str, min_similarity: float = 0.9) -> tuple[bool, str]:
    """`math`, loosely: some formula delimited by \\(..\\), \\[..\\], $$..$$ or $..$ in the output has the
    same `latex_key` as the expected one, or one at least `min_similarity` similar (rapidfuzz ratio).
    The benchmark renders both with KaTeX and compares pixels; this is a cheaper stand-in."""
    equations: list[str] = []
    rest = content
    for pattern in _MATH_DELIMITED:
        equations += [m.strip() for m in pattern.findall(rest)]
        rest = pattern.sub("", rest)
    expected = latex_key(test["math"])
    best = max((fuzz.ratio(expected, latex_key(e)) / 100.0 for e in equations), default=0.0)
    if best >= min_similarity:
        return True, ""
    return False, f"no formula like {test['math'][:40]!r} (best similarity {best:.2f})"


def check_table(test: dict[str, Any], content: str) -> tuple[bool, str]:
    """`table`: a cell of some markdown or HTML table matches `cell` and its neighbours match
    `up`/`down`/`left`/`right`, `top_heading` (a header cell above; the top cell when there is none)
    and `left_heading` (a header cell to its left; the first cell of the row when there is none)."""
    from ocrgate.evaluate.tables import parse_tables

    tables = parse_tables(content)
    if not tables:
        return False, "no tables found"
    max_diffs = int(test.get("max_diffs", 0))

    def similar(expected: str, got: str) -> bool:
        expected = olmocr_normalise(expected)
        limit = max(0.5, _threshold(max_diffs, len(expected)))
        return fuzz.ratio(expected, olmocr_normalise(got)) / 100.0 >= limit

    relations = ("up", "down", "left", "right", "top_heading", "left_heading")
    wanted = {name: test[name] for name in relations if test.get(name)}
    for table in tables:
        for cell in table.cells():
            if not similar(test["cell"], table.text(cell)):
                continue
            if all(
                any(similar(expected, table.text(other)) for other in table.related(cell, name))
                for name, expected in wanted.items()
            ):
                return True, ""
    return False, f"no cell {test['cell'][:40]!r} with the expected neighbours"


CHECKS = {
    "present": check_presence,
    "absent": check_presence,
    "order": check_order,
    "baseline": check_baseline,
    "math": check_math,
    "table": check_table,
}


def run_olmocr_test(test: dict[str, Any], content: str) -> tuple[bool, str]:
    """Run one olmOCR-Bench test on the output markdown: (passed, why not)."""
    check = CHECKS.get(test.get("type", ""))
    if check is None:
        return False, f"unsupported test type {test.get('type')!r}"
    return check(test, content)
