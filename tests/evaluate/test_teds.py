"""TEDS against the values of the reference implementation (PubTabNet's src/metric.py and demo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrgate.evaluate.teds import table_tree, teds
from ocrgate.tables import html_table_markdown

# PubTabNet's src/demo.ipynb: TEDS(pred, true) printed 0.9781765018607124 with the reference code
DEMO_PRED = (
    "<html><body><table><thead><tr><td><b>Name of algori</b></td><td><b>Notablefeatures</b></td></tr>"
    "</thead><tbody><tr><td>MACS [23]</td><td>Uses both a control library and local statistics to "
    "minimize bias</td></tr><tr><td>SICER [15]</td><td>Designed for detecting diffusely enriched regions; "
    "for example, histone modification</td></tr><tr><td>PeakSEQ [24]</td><td>Corrects for reference "
    "genome mappability and local statistics</td></tr><tr><td>SISSRs [25]</td><td>High resolution, precise "
    "identification of binding-site location</td></tr><tr><td>F-seq [26]</td><td>Uses kernel density "
    "estimation</td></tr></tbody></table></body></html>"
)
DEMO_TRUE = (
    "<html><body><table><thead><tr><td><b>Name of algorithm</b></td><td><b>Notable features</b></td></tr>"
    "</thead><tbody><tr><td>MACS [23]</td><td>Uses both a control library and local statistics to "
    "minimize bias</td></tr><tr><td>SICER [14]</td><td>Designed for detecting diffusely enriched regions; "
    "for example, histone modification</td></tr><tr><td>PeakSeq [24]</td><td>Corrects for reference "
    "genome mappability and local statistics</td></tr><tr><td>SISSRs [25]</td><td>High resolution, precise "
    "identification of binding-site location</td></tr><tr><td>F-seq [26]</td><td>Uses kernel density "
    "estimation</td></tr></tbody></table></body></html>"
)


def test_reference_demo_value() -> None:
    assert teds(DEMO_PRED, DEMO_TRUE) == pytest.approx(0.9781765018607124, abs=1e-12)
    assert teds(DEMO_PRED, DEMO_TRUE, structure_only=True) == 1.0
    assert teds(DEMO_TRUE, DEMO_TRUE) == 1.0


def test_hand_computed_values() -> None:
    true = "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>"  # 6 nodes
    # one cell's text wholly different: rename cost 1 (normalised Levenshtein of 'd' vs 'x')
    assert teds(true.replace(">d<", ">x<"), true) == pytest.approx(1 - 1 / 6)
    # half a cell's text: 'ab' vs 'ax' costs 1/2
    assert teds(true.replace(">b<", ">ab<"), true.replace(">b<", ">ax<")) == pytest.approx(1 - 0.5 / 6)
    # a row lost: delete tr + 2 td = 3 of max(6, 3) nodes
    assert teds("<table><tr><td>a</td><td>b</td></tr></table>", true) == pytest.approx(1 - 3 / 6)
    # a span differs: rename costs 1 whatever the text (and the lost cell is a deletion)
    spanned = "<table><tr><td colspan='2'>a</td></tr><tr><td>c</td><td>d</td></tr></table>"
    assert teds(spanned, true) == pytest.approx(1 - 2 / 6)
    # inner markup is counted as nodes and compared as tokens: <b>a</b> is 3 tokens against 1
    bold = true.replace(">a<", "><b>a</b><")
    assert teds(bold, true) == pytest.approx(1 - (2 / 3) / 7)


def test_no_table_and_forgiving_html() -> None:
    assert teds("no table here", "<table><tr><td>a</td></tr></table>") == 0.0
    assert teds("<table><tr><td>a</td></tr></table>", "") == 0.0
    unclosed = "<table><tr><td>a<td>b<tr><td>c<td>d"
    assert teds(unclosed, "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>") == 1.0
    tree = table_tree("<p>x</p><table><tr><td>&lt;1 &amp; 2<br>3</td></tr></table><table></table>")
    assert tree is not None
    root, n_nodes = tree
    cell = root.children[0].children[0]
    assert "".join(cell.content) == "<1 & 2<br></br>3" and n_nodes == 3


def test_ground_truth_against_itself_and_its_markdown(eval_dir: Path, manifest: dict) -> None:
    """Every tables/ ground truth scores 1 against itself; its markdown rendering (spans lost, bold lost)
    scores below 1 on the spanning tables and 1 in TEDS-S on the rest."""
    entries = [e for e in manifest.values() if e["source"] == "tables"]
    assert len(entries) == 12
    for entry in entries:
        html = (eval_dir / entry["gt_html"]).read_text(encoding="utf-8")
        assert teds(html, html) == 1.0
        if entry.get("table_spanning_cells"):
            markdown_html = _markdown_as_html(html_table_markdown(html))
            assert teds(markdown_html, html, structure_only=True) < 1.0


def _markdown_as_html(markdown: str) -> str:
    rows = [line.strip().strip("|").split("|") for line in markdown.splitlines() if not line.startswith("|-")]
    rows = [r for r in rows if not all(c.strip() == "---" for c in r)]
    body = "".join("<tr>" + "".join(f"<td>{c.strip()}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{body}</table>"
