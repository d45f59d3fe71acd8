"""Plain engine text -> CommonMark that renders as the page reads, checked with a real CommonMark
implementation (markdown-it-py's CommonMark preset) on generated strings, real Tesseract lines and a
real typeset page's line breaks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from PIL import Image

from ocrgate.evaluate.metrics import normalise
from ocrgate.layout import paragraph_blocks
from ocrgate.render import (
    assemble_response,
    document_markdown,
    escape_text,
    join_hyphenated,
    lines_markdown,
    page_markdown,
    render_page,
)
from ocrgate.schema import Block, PageResult, TextLine

COMMONMARK = MarkdownIt("commonmark")
SPECIAL = "\\`*_[]<>&|~$#+-=.)!:\"'()0123456789 \t"
# one line of engine text: no line ending, not blank, no U+0000 (CommonMark turns it into U+FFFD)
LINE = st.text(
    alphabet=st.one_of(st.sampled_from(SPECIAL), st.characters(exclude_characters="\n\r\x00")), min_size=1
).filter(lambda s: s.strip())


def inline_text(tokens: list[Token]) -> str:
    """What an inline token's children read as: text as is, a soft or hard line break as a newline."""
    parts: list[str] = []
    for child in tokens:
        if child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.children:
            parts.append(inline_text(child.children))
        else:
            parts.append(child.content)
    return "".join(parts)


def rendered(markdown: str) -> list[tuple[str, str]]:
    """What a CommonMark renderer makes of `markdown`: (outermost block's token type, text) per text."""
    blocks: list[tuple[str, str]] = []
    opened: list[str] = []
    for token in COMMONMARK.parse(markdown):
        if token.nesting == 1:
            opened.append(token.type)
        elif token.nesting == -1:
            opened.pop()
        elif token.type == "inline":
            blocks.append((opened[0], inline_text(token.children or [])))
        else:
            blocks.append((token.type, token.content))
    return blocks


# CommonMark's backslash escape: a backslash before ASCII punctuation
BACKSLASH_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")


def reads_as(markdown: str) -> str:
    """The plain text a CommonMark renderer shows for a paragraph of `markdown` (one block expected)."""
    blocks = rendered(markdown)
    assert [kind for kind, _ in blocks] == ["paragraph_open"], blocks
    return blocks[0][1]


@given(st.lists(LINE, min_size=1, max_size=4))
@example(["# # TEDs mAP"])
@example(["<lazy>", "&amp; &#35; *a* _b_ `c` [d](e) ![f](g) \\", "---", "==="])
@example(["1. one", "2) two", "- three", "+ four", "> quote", "    indented code?", "~~~", "```"])
@example(["<!-- comment -->", "<div>", "<https://example.org>", "[ref]: /url", "a  ", "b\\"])
def test_escaped_text_renders_back_exactly(lines: list[str]) -> None:
    assert reads_as(escape_text("\n".join(lines))) == "\n".join(line.strip() for line in lines)


@given(st.lists(LINE, min_size=1, max_size=4))
def test_escaping_does_not_change_the_scored_text(lines: list[str]) -> None:
    """The eval metrics strip markdown first: escapes must vanish there, so CER cannot get worse.
    (A backslash before punctuation is the exception, tested below: read as markdown, the unescaped
    text loses it, the escaped text keeps it.)"""
    text = "\n".join(line.strip() for line in lines)
    assume(not BACKSLASH_ESCAPE.search(text))
    assert normalise(escape_text(text), markdown=True) == normalise(text, markdown=True)


def test_a_backslash_the_engine_read_is_kept() -> None:
    assert normalise(escape_text("C:\\Users a\\:b"), markdown=True) == "c:\\users a\\:b"


def test_escape_text_leaves_plain_words_alone() -> None:
    assert escape_text("The quick brown fox, 12 point text (and more).") == (
        "The quick brown fox, 12 point text (and more)."
    )
    assert escape_text("# # TEDs mAP") == "\\# # TEDs mAP"
    assert escape_text("1990. The year") == "1990\\. The year"
    assert escape_text("x<y & a*b") == "x\\<y \\& a\\*b"


@pytest.fixture(scope="module")
def tesseract_lines(eval_dir: Path) -> list[str]:
    """Real engine lines: Tesseract on two receipts and a magazine page (quotes, dashes, #, *, ...)."""
    if shutil.which("tesseract") is None:
        pytest.skip("the tesseract binary is not installed here")
    import pytesseract

    lines: list[str] = []
    for name in (
        "receipts/images/sroie_200.jpg",
        "receipts/images/sroie_450.jpg",
        "tesseract_test/images/unlv_8087_054.png",
    ):
        with Image.open(eval_dir / name) as image:
            text = pytesseract.image_to_string(image.convert("RGB"))
        lines.extend(line for line in text.splitlines() if line.strip())
    return lines


def test_real_engine_lines_render_back_exactly(tesseract_lines: list[str]) -> None:
    assert len(tesseract_lines) > 50
    special = [line for line in tesseract_lines if escape_text(line) != line.strip()]
    assert len(special) > 5  # the pages do carry characters CommonMark would read as syntax
    for line in tesseract_lines:
        assert reads_as(escape_text(line)) == line.strip()


def test_a_broken_word_is_joined_when_the_joined_word_is_a_word() -> None:
    assert join_hyphenated(["How could she ex-", "plain the mood"]) == ["How could she explain the mood"]
    assert join_hyphenated(["TRADI-", "TIONAL"]) == ["TRADITIONAL"]  # all capitals
    assert join_hyphenated(["soft\u00ad", "hyphen"]) == ["softhyphen"]  # U+00AD only ever marks a break


def test_never_joined_when_unsure() -> None:
    assert join_hyphenated(["a well-", "known fact"]) == ["a well-", "known fact"]  # "wellknown" is no word
    assert join_hyphenated(["the Greco-", "Roman city"]) == [
        "the Greco-",
        "Roman city",
    ]  # capital: a compound
    assert join_hyphenated(["pages 10-", "20"]) == ["pages 10-", "20"]
    assert join_hyphenated(["a dash -", "and more"]) == ["a dash -", "and more"]
    assert join_hyphenated(["xq-", "zzv"]) == ["xq-", "zzv"]


def test_the_texts_own_vocabulary_decides_too() -> None:
    # the hyphenated form written elsewhere keeps its hyphen; a name written whole is joined
    assert join_hyphenated(["a well-", "known fact, well-known"]) == ["a well-known fact, well-known"]
    assert join_hyphenated(["Zig Zig-", "lar said, Ziglar"]) == ["Zig Ziglar said, Ziglar"]
    assert join_hyphenated(["Gua-", "rendi"], vocabulary=["Guarendi"]) == ["Guarendi"]


def test_a_real_pages_broken_words(eval_dir: Path) -> None:
    """The UNLV magazine page's own line breaks (its ground truth is line by line, as typeset)."""
    truth = (eval_dir / "tesseract_test" / "gt" / "unlv_8071_093.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in truth.splitlines() if line.strip()]
    text = "\n".join(join_hyphenated(lines))
    for word in (
        "explain",
        "simply,",
        "traditional",
        "unconditional",
        "clergymen,",
        "encouragement.",
        "Ziglar",
    ):
        assert f" {word}" in text or text.startswith(word)
    broken = sum(line.endswith("-") for line in lines)
    assert broken >= 13 and text.count("-\n") == 0  # every break on this page was typesetting


def test_bullet_lines_become_list_items_with_their_continuations() -> None:
    markdown = lines_markdown(
        ["Ingredients:", "• flour", "  sifted twice", "· sugar", "▪ eggs", "– milk", "* salt"]
    )
    assert markdown == "Ingredients:\n- flour\n  sifted twice\n- sugar\n- eggs\n- milk\n- salt"
    assert rendered(markdown) == [
        ("paragraph_open", "Ingredients:"),
        ("bullet_list_open", "flour\nsifted twice"),
        ("bullet_list_open", "sugar"),
        ("bullet_list_open", "eggs"),
        ("bullet_list_open", "milk"),
        ("bullet_list_open", "salt"),
    ]
    assert lines_markdown(["•no space after the glyph"]) == "- no space after the glyph"


def test_numbered_lines_become_ordered_items_only_where_they_render_with_their_numbers() -> None:
    markdown = lines_markdown(["Steps:", "1. open", "2) close", "3. done", "5. not four"])
    assert [kind for kind, _ in rendered(markdown)][:2] == ["paragraph_open", "ordered_list_open"]
    assert markdown.splitlines()[-1] == "   5\\. not four"  # kept in item 3: 5 would render as 4
    # a number starting a line inside a paragraph is text unless it is 1 (CommonMark's own rule)
    assert lines_markdown(["in the year", "1990. Then"]) == "in the year\n1990\\. Then"
    assert rendered(lines_markdown(["2. Methods"])) == [("ordered_list_open", "Methods")]


def test_what_only_looks_like_a_list_stays_text() -> None:
    assert lines_markdown(["-5 degrees", "-"]) == "\\-5 degrees\n\\-"
    assert reads_as(lines_markdown(["Total", "-", "•"])) == "Total\n-\n•"


def test_a_paragraph_of_plain_lines() -> None:
    markdown = lines_markdown(["  # # TEDs mAP  ", "", "Our <lazy> model is ex-", "plained here"])
    assert markdown == "\\# # TEDs mAP\nOur \\<lazy> model is explained here"
    assert reads_as(markdown) == "# # TEDs mAP\nOur <lazy> model is explained here"


def test_light_engine_paragraphs_are_escaped() -> None:
    lines = [
        TextLine(text="# # TEDs mAP", bbox=(10, 10, 200, 30), score=0.9),
        TextLine(text="*lazy* <b>", bbox=(10, 34, 200, 54), score=0.9),
    ]
    [block] = paragraph_blocks(lines)
    assert block.text == "\\# # TEDs mAP\n\\*lazy\\* \\<b>"


def test_markdown_engines_blocks_stay_as_they_are() -> None:
    table = "| a | b |\n|---|---|\n| 1 | 2 |"
    blocks = [
        Block(kind="title", text="## Results", bbox=(0, 0, 1, 1)),
        Block(kind="text", text="**bold** and $x^2$", bbox=(0, 0, 1, 1)),
        Block(kind="table", text=table, bbox=(0, 0, 1, 1)),
    ]
    assert page_markdown(blocks) == f"## Results\n\n**bold** and $x^2$\n\n{table}"


def test_pages_are_separated_by_an_html_comment_with_the_page_number() -> None:
    markdown = document_markdown([(0, "one"), (1, ""), (2, "three")])
    assert markdown == "one\n\n<!-- page 2 -->\n\n<!-- page 3 -->\n\nthree"
    assert rendered(markdown) == [
        ("paragraph_open", "one"),
        ("html_block", "<!-- page 2 -->\n"),
        ("html_block", "<!-- page 3 -->\n"),
        ("paragraph_open", "three"),
    ]
    assert COMMONMARK.render(markdown).count("<!--") == 2  # passed through as comments: nothing shown
    assert document_markdown([(0, "only")]) == "only"
    assert normalise(markdown, markdown=True) == "one three"  # and not scored


def test_the_response_markdown_has_the_separators() -> None:
    image = Image.new("RGB", (100, 100), "white")
    pages = [
        render_page(
            PageResult(index=i, width=100, height=100, blocks=[Block(text=f"p{i}", bbox=(1, 1, 9, 9))]),
            image,
            False,
        )
        for i in (1, 0)
    ]
    response = assemble_response("engine", "doc.pdf", pages)
    assert response.markdown == "p0\n\n<!-- page 2 -->\n\np1"
    assert [p.markdown for p in response.pages] == ["p0", "p1"]  # a page's own markdown has none
