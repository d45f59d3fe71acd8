"""Metrics against hand-computed cases, and olmOCR-Bench tests against the benchmark's rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocrgate.evaluate import metrics
from ocrgate.evaluate.metrics import cer, ned, normalise, run_olmocr_test, wer, word_bag_f1
from ocrgate.evaluate.tables import parse_tables

# ---------------------------------------------------------------- normalisation and text metrics


def test_normalise_options() -> None:
    text = "  Hello\n\tWORLD  "
    assert normalise(text) == "hello world"
    assert normalise(text, casefold=False) == "Hello WORLD"
    assert normalise(text, collapse_ws=False) == "  hello\n\tworld  "
    assert normalise("Straße") == "strasse"  # casefold, not lower


def test_normalise_strips_markdown_when_asked() -> None:
    md = "# Title\n\n**bold** text\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    assert normalise(md, markdown=True) == "title bold text a b 1 2"
    assert normalise(md) != normalise(md, markdown=True)


def test_cer_hand_computed() -> None:
    assert cer("abc", "abc") == 0
    assert cer("abd", "abc") == pytest.approx(1 / 3)  # one substitution
    assert cer("ab", "abcd") == pytest.approx(2 / 4)  # two deletions
    assert cer("abcdef", "abc") == pytest.approx(3 / 3)  # insertions count against truth length
    assert cer("", "") == 0 and cer("x", "") == 1


def test_wer_hand_computed() -> None:
    assert wer("the cat sat", "the cat sat") == 0
    assert wer("the dog sat", "the cat sat") == pytest.approx(1 / 3)
    assert wer("the cat", "the cat sat down") == pytest.approx(2 / 4)
    assert wer("", "a b") == 1 and wer("", "") == 0


def test_word_bag_f1_hand_computed() -> None:
    # order does not matter
    assert word_bag_f1("sat cat the", "the cat sat") == 1
    # output: a a b (3 words), truth: a b c d (4); shared = a, b -> P = 2/3, R = 2/4, F1 = 4/7
    assert word_bag_f1("a a b", "a b c d") == pytest.approx(4 / 7)
    assert word_bag_f1("x", "y") == 0
    # punctuation dropped, case kept
    assert word_bag_f1("Hello, world.", "hello world!") == pytest.approx(0.5)
    assert word_bag_f1("", "") == 1


def test_ned_is_omnidocbench_style() -> None:
    # white space and punctuation are dropped before comparing, case is kept
    assert ned("Hello, world!", "Hello world") == 0
    # "abcd" vs "abxd": one substitution over max length 4
    assert ned("ab cd", "abxd") == pytest.approx(1 / 4)
    # max length in the denominator: NED stays within 0..1 even for long outputs
    assert ned("abcdefgh", "ab") == pytest.approx(6 / 8)
    assert ned("A", "a") == 1
    assert ned("", "") == 0
    assert metrics.omnidoc_normalise("![fig](x.png) a-b") == "ab"


@given(st.text(max_size=60))
@settings(max_examples=60, deadline=None)
def test_identity_scores_perfectly(text: str) -> None:
    n = normalise(text)
    assert cer(n, n) == 0
    assert wer(n, n) == 0
    assert word_bag_f1(n, n) == 1
    assert ned(text, text) == 0


@given(st.text(alphabet="abc ", max_size=40), st.text(alphabet="abc ", max_size=40))
@settings(max_examples=80, deadline=None)
def test_f1_symmetric_and_bounded(a: str, b: str) -> None:
    assert word_bag_f1(a, b) == pytest.approx(word_bag_f1(b, a))
    assert 0 <= word_bag_f1(a, b) <= 1
    assert 0 <= ned(a, b) <= 1
    assert ned(a, b) == pytest.approx(ned(b, a))


# ---------------------------------------------------------------- olmOCR-Bench tests


def t(kind: str, **fields: object) -> dict:
    return {"pdf": "x.pdf", "page": 1, "id": f"{kind}_1", "type": kind, **fields}


def test_present_exact_and_fuzzy() -> None:
    content = "The **quick** brown fox\njumps over the lazy dog."
    # bold marks and the newline are normalised away
    assert run_olmocr_test(t("present", text="quick brown fox jumps"), content)[0]
    assert not run_olmocr_test(t("present", text="quick brown cat"), content)[0]
    # one substituted character: partial_ratio is indel-based, so a substitution costs two edits
    assert not run_olmocr_test(t("present", text="quick brown fax"), content)[0]
    assert run_olmocr_test(t("present", text="quick brown fax", max_diffs=2), content)[0]


def test_present_case_sensitivity_and_typography() -> None:
    content = "MASTER BATH — “quoted”"
    assert not run_olmocr_test(t("present", text="Master Bath"), content)[0]  # case sensitive by default
    assert run_olmocr_test(t("present", text="Master Bath", case_sensitive=False), content)[0]
    assert run_olmocr_test(t("present", text='BATH - "quoted"'), content)[0]  # dashes and quotes to ASCII


def test_present_short_output_fails_and_absent_passes() -> None:
    assert not run_olmocr_test(t("present", text="a long phrase"), "\n")[0]
    assert run_olmocr_test(t("absent", text="a long phrase"), "\n")[0]


def test_absent_with_max_diffs_and_last_n() -> None:
    content = "Body text here.\nDownload date: 28 Dec 2018"
    assert not run_olmocr_test(t("absent", text="Download date: 28 Dec 2018"), content)[0]
    assert run_olmocr_test(t("absent", text="Download date: 28 Dec 2018"), "Body text only")[0]
    # within max_diffs, a near copy still counts as present -> absent fails
    assert not run_olmocr_test(t("absent", text="Download date: 29 Dec 2018", max_diffs=1), content)[0]
    # page number in the last 20 characters
    assert not run_olmocr_test(t("absent", text="1", last_n=20), "text text text text text 1")[0]
    assert run_olmocr_test(t("absent", text="7", last_n=5), "7 at the start, not the end")[0]


def test_order() -> None:
    content = "Euler's Identity ... Pythagorean Theorem ... Maxwell's Equations"
    assert run_olmocr_test(t("order", before="Euler's Identity", after="Maxwell's Equations"), content)[0]
    assert not run_olmocr_test(t("order", before="Maxwell's Equations", after="Euler's Identity"), content)[0]
    assert not run_olmocr_test(t("order", before="Euler's Identity", after="Fermat"), content)[0]
    # fuzzy: one typo allowed with max_diffs=1
    typo = "Eulers Identity then Pythagorean Theorem"
    assert not run_olmocr_test(t("order", before="Euler's Identity", after="Pythagorean"), typo)[0]
    assert run_olmocr_test(t("order", before="Euler's Identity", after="Pythagorean", max_diffs=1), typo)[0]
    # any occurrence of before ahead of any occurrence of after is enough
    assert run_olmocr_test(t("order", before="150.", after="157."), "157. 150. 157.")[0]


MD_TABLE = """Some text

| Source | Type | Bytes | Words |
|---|---|---|---|
| arXiv | STEM papers | 47.2B | 11.8B |
| Algebraic Stack | Math proofs code | 12.2B | 3.7B |
"""

HTML_TABLE = """<table>
<tr><th></th><th colspan="2">Year Ended</th></tr>
<tr><th></th><th>2023</th><th>2022</th></tr>
<tr><td>Revenue</td><td>1,892</td><td>1,136</td></tr>
<tr><td>Research and development</td><td>680</td><td>2,532</td></tr>
</table>"""


def test_table_neighbours_markdown() -> None:
    assert run_olmocr_test(t("table", cell="47.2B", left="STEM papers", right="11.8B"), MD_TABLE)[0]
    assert run_olmocr_test(t("table", cell="11.8B", down="3.7B"), MD_TABLE)[0]
    assert run_olmocr_test(t("table", cell="3.7B", up="11.8B"), MD_TABLE)[0]
    assert not run_olmocr_test(t("table", cell="11.8B", up="3.7B"), MD_TABLE)[0]
    # headings: the header row above, the first cell of the row to the left
    assert run_olmocr_test(t("table", cell="47.2B", top_heading="Bytes"), MD_TABLE)[0]
    assert run_olmocr_test(t("table", cell="Math proofs code", left_heading="Algebraic Stack"), MD_TABLE)[0]
    assert not run_olmocr_test(t("table", cell="47.2B", top_heading="Words"), MD_TABLE)[0]
    # a cell alone only has to exist; fuzzy with max_diffs
    assert run_olmocr_test(t("table", cell="Type"), MD_TABLE)[0]
    assert not run_olmocr_test(t("table", cell="47.3B"), MD_TABLE)[0]
    assert run_olmocr_test(t("table", cell="47.3B", max_diffs=1), MD_TABLE)[0]


def test_table_html_with_spans_and_th_headings() -> None:
    assert run_olmocr_test(t("table", cell="680", up="1,892"), HTML_TABLE)[0]
    assert run_olmocr_test(t("table", cell="2,532", left_heading="Research and development"), HTML_TABLE)[0]
    # top_heading walks up through th cells: both the year and the spanning "Year Ended" count
    assert run_olmocr_test(t("table", cell="1,136", top_heading="Year Ended"), HTML_TABLE)[0]
    assert run_olmocr_test(t("table", cell="1,136", top_heading="2022"), HTML_TABLE)[0]
    assert not run_olmocr_test(t("table", cell="1,136", top_heading="2023"), HTML_TABLE)[0]


def test_table_without_tables_fails() -> None:
    ok, why = run_olmocr_test(t("table", cell="680"), "680 1,892 no table here")
    assert not ok and "no tables" in why


def test_table_spans_occupy_grid() -> None:
    (table,) = parse_tables(HTML_TABLE)
    year = next(c for c in table.cells() if table.text(c) == "Year Ended")
    assert table.related(year, "down") == {(1, 1), (1, 2)}


def test_baseline() -> None:
    assert run_olmocr_test(t("baseline", max_length=10), "")[0]  # blank page expected
    assert run_olmocr_test(t("baseline", max_length=10), "p. 12")[0]
    assert not run_olmocr_test(t("baseline", max_length=10), "a real paragraph of text")[0]
    assert run_olmocr_test(t("baseline"), "Some ordinary text.")[0]
    assert not run_olmocr_test(t("baseline"), "   \n  ")[0]  # no text at all
    assert not run_olmocr_test(t("baseline"), "Intro " + "ab" * 40)[0]  # 40 repeats of a 2-gram > 30
    assert run_olmocr_test(t("baseline"), "Intro " + "ab" * 20)[0]
    assert not run_olmocr_test(t("baseline"), "Text with 中文")[0]


def test_math_loose() -> None:
    expected = t("math", math="a^{2}+b^{2}=c^{2}")
    assert run_olmocr_test(expected, "Pythagoras: $a^2 + b^2 = c^2$.")[0]  # braces and spaces ignored
    assert run_olmocr_test(expected, r"\[ a^{2}+b^{2}=c^{2} \]")[0]
    assert not run_olmocr_test(expected, "a^2 + b^2 = c^2 without delimiters")[0]
    assert not run_olmocr_test(expected, "$x^2 - y^3 = z$")[0]
    frac = t("math", math=r"\nabla \times \mathbf{E}=-\frac{\partial \mathbf{B}}{\partial t}")
    assert run_olmocr_test(frac, r"$$\nabla\times E = -\frac{\partial B}{\partial t}$$")[0]


def test_unknown_type_fails_with_reason() -> None:
    ok, why = run_olmocr_test(t("footnote"), "x")
    assert not ok and "unsupported" in why
