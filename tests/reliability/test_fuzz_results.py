"""Fuzzing what the gateway reads back from workers: a worker's answer (PageResult JSON) goes through
the gateway's own steps, `PageResult.model_validate_json` -> `render_page` (markdown, figures, boxes
picture) -> `assemble_response` -> the response JSON, and for jobs the stored `RenderedPage` JSON read
back again. A worker may be buggy or compromised: its answer is either refused at validation (a
pydantic ValidationError, which the gateway turns into a typed error) or it renders into a response
that serialises and reads back; nothing else may escape.
"""

from __future__ import annotations

import collections
import json
import math
import random
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import ValidationError

from ocrgate.render import RenderedPage, assemble_response, render_page
from ocrgate.schema import BLOCK_KINDS, OCRResponse, PageResult
from tests.reliability.reports import fuzz_examples, write_report

IMAGE = Image.new("RGB", (64, 48), "white")
EDGE_NUMBERS: list[Any] = [0, -1, 1, 0.5, 1e-300, 1e300, -1e300, 2**31, 2**63, -(2**63), 2**64, 10**30]
EDGE_NUMBERS += [math.nan, math.inf, -math.inf, True, None, "7", [], {}]
EDGE_SIZES: list[Any] = [0, -5, 1, 10**6, 2**31, 2**63, 1.5, math.nan, "64", None]
TEXTS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "![x](javascript:alert(1))",
    "# title\n\n| a | b |\n|---|---|\n| 1 | 2 |",
    "$$\\frac{1}{0}$$",
    "```\ncode\n```",
    "\x00\x1b[31m\u202e\ufeff\U0001f600",
    "x" * 5000,
    "",
]
TABLES = [
    '<table><tr><td onclick="alert(1)" colspan="2">a</td></tr><script>alert(2)</script></table>',
    "<table><tr><td rowspan=99999>a<iframe src=//evil></iframe></td></tr></table>",
    "<table><tr><th><a href='javascript:alert(1)'>x</a></th></tr>",
    "</table><style>*{display:none}</style>",
]


class Maker:
    """Builds one worker answer from a seed that hypothesis draws (fast, and reproducible from it)."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    def chance(self, p: float) -> bool:
        return self.rnd.random() < p

    def number(self) -> Any:
        r = self.rnd.random()
        if r < 0.5:
            return self.rnd.uniform(-20, 90)
        if r < 0.7:
            return self.rnd.randint(-100, 1000)
        if r < 0.9:
            return self.rnd.choice(EDGE_NUMBERS[:15])  # numbers only
        return self.rnd.choice(EDGE_NUMBERS)

    def text(self) -> str:
        if self.chance(0.3):
            return self.rnd.choice(TEXTS)
        alphabet = "ab #|*-_`$<>&\\\n\t\u00e9\u4e2d\u0301\u200b"
        return "".join(self.rnd.choice(alphabet) for _ in range(self.rnd.randint(0, 40)))

    def json_value(self, depth: int = 0) -> Any:
        r = self.rnd.random()
        if depth < 3 and r < 0.2:
            return [self.json_value(depth + 1) for _ in range(self.rnd.randint(0, 4))]
        if depth < 3 and r < 0.4:
            return {self.text()[:8]: self.json_value(depth + 1) for _ in range(self.rnd.randint(0, 4))}
        return self.rnd.choice([None, True, self.number(), self.text()])

    def size(self) -> Any:
        return self.rnd.randint(1, 200) if self.chance(0.9) else self.rnd.choice(EDGE_SIZES)

    def block(self) -> dict[str, Any]:
        block: dict[str, Any] = {
            "kind": self.rnd.choice(BLOCK_KINDS),
            "text": self.text(),
            "bbox": [self.number() for _ in range(4)],
        }
        if self.chance(0.3):
            block["html"] = self.rnd.choice(TABLES) if self.chance(0.7) else self.text()
        if self.chance(0.3):
            block["score"] = self.number()
        if self.chance(0.2):
            block["level"] = self.rnd.randint(1, 6) if self.chance(0.8) else self.rnd.randint(-2, 9)
        if self.chance(0.2):
            block["label"] = self.text()
        if self.chance(0.05):  # a field of the wrong shape
            block[self.rnd.choice(["kind", "text", "bbox", "surprise"])] = self.json_value()
        return block

    def page_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "index": self.rnd.randint(0, 5) if self.chance(0.9) else self.rnd.choice(EDGE_SIZES),
            "width": self.size(),
            "height": self.size(),
            "blocks": [self.block() for _ in range(self.rnd.randint(0, 6))],
        }
        if self.chance(0.3):
            result["raw"] = self.json_value()
        if self.chance(0.2):
            result["flags"] = [self.text() for _ in range(self.rnd.randint(0, 3))]
        if self.chance(0.2):
            result["ocr_seconds"] = self.number()
        if self.chance(0.05):
            del result[self.rnd.choice(["index", "width", "height", "blocks"])]
        return result

    def answer(self) -> bytes:
        """Mostly well-formed JSON of odd content; sometimes cut, spliced or not a page at all."""
        encoded = json.dumps(self.page_result(), allow_nan=True).encode()
        damage = self.rnd.randint(0, 15)
        if damage == 0:
            encoded = encoded[: self.rnd.randint(0, len(encoded) - 1)]
        elif damage == 1:
            at = self.rnd.randint(0, len(encoded))
            encoded = encoded[:at] + self.rnd.randbytes(self.rnd.randint(1, 8)) + encoded[at:]
        elif damage == 2:
            encoded = json.dumps(self.json_value(), allow_nan=True).encode()
        return encoded


def read_back(answer: bytes, boxes: bool, fit: bool) -> str:
    """The gateway's steps on one worker answer; returns how it ended."""
    try:
        result = PageResult.model_validate_json(answer)
    except ValidationError:
        return "refused"
    if fit:
        result = result.fitted(IMAGE.width, IMAGE.height)
    rendered = render_page(result, IMAGE, boxes)
    stored = RenderedPage.model_validate_json(rendered.model_dump_json())  # jobs keep pages as JSON
    response = assemble_response("fuzz", "page.png", [stored, rendered], request_id="r")
    OCRResponse.model_validate_json(response.model_dump_json())  # what a client reads must parse
    return "rendered"


@pytest.mark.parametrize(
    "examples",
    [
        pytest.param(fuzz_examples(3_000), id="short"),
        pytest.param(fuzz_examples(50_000), id="long", marks=pytest.mark.slow),
    ],
)
def test_worker_answers_render_or_are_refused(examples: int) -> None:
    outcomes: collections.Counter[str] = collections.Counter()

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2**64), st.booleans(), st.booleans())
    def run(seed: int, boxes: bool, fit: bool) -> None:
        outcomes[read_back(Maker(random.Random(seed)).answer(), boxes, fit)] += 1

    started = time.perf_counter()
    run()
    total = sum(outcomes.values())
    write_report(
        f"fuzz_results_{examples}",
        {
            "target": "PageResult JSON -> render_page -> assemble_response -> response JSON",
            "inputs": total,
            "unhandled_exceptions": 0,
            "outcomes": dict(outcomes),
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    assert total >= examples
    assert outcomes["rendered"] > examples // 10  # most answers get past validation into rendering
