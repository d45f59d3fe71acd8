"""The options schema every built-in backend publishes agrees with its `parse_options`, checked with
jsonschema: what one accepts the other accepts, what one refuses (unknown names, wrong types, numbers
out of range) the other refuses. Options arrive as JSON text, read by `options_from_json`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema.validators import validator_for

from ocrgate.backends import registry
from ocrgate.errors import InvalidOption
from ocrgate.wire import options_from_json

Case = tuple[dict[str, Any] | str, bool]  # options (or their JSON text), accepted?
COMMON: list[Case] = [
    ({}, True),
    ({"prompt": "Read this."}, True),
    ({"prompt": None}, True),
    ({"prompt": 5}, False),
    ({"prompt": ["a"]}, False),
    ({"unknown": 1}, False),
    ({"Prompt": "x"}, False),
]
CASES: dict[str, list[Case]] = {
    "rapidocr": [
        ({"text_score": 0}, True),
        ({"text_score": 0.5}, True),
        ({"text_score": 1}, True),
        ({"text_score": None}, True),
        ({"text_score": 5}, False),
        ({"text_score": 1.01}, False),
        ({"text_score": -0.1}, False),
        ({"text_score": "0.5"}, False),
        ({"text_score": True}, False),
        ({"threads": 4}, False),  # an engine setting, not a request option
    ],
    "tesseract": [
        ({"lang": "eng"}, True),
        ({"lang": "eng+deu"}, True),
        ({"lang": 5}, False),
        ({"lang": ["eng"]}, False),
        ({"psm": 6}, False),
    ],
    "deepseek-ocr": [
        *[({"mode": mode}, True) for mode in ("document", "free", "figure", "describe", "locate")],
        ({"mode": "sing"}, False),
        ({"mode": 1}, False),
        ({"phrase": "x" * 500}, True),
        ({"phrase": "x" * 501}, False),
        *[({"resolution": r}, True) for r in ("tiny", "small", "base", "large", "gundam")],
        ({"resolution": "huge"}, False),
        ({"max_tokens": 1}, True),
        ({"max_tokens": 32768}, True),
        ({"max_tokens": 5.0}, True),  # a JSON Schema integer: a number with no fraction
        ({"max_tokens": 0}, False),
        ({"max_tokens": 32769}, False),
        ({"max_tokens": 5.5}, False),
        ({"max_tokens": "5"}, False),
        ({"max_tokens": True}, False),
        ({"temperature": 1}, False),
    ],
    "mineru": [
        *[({"tier": tier}, True) for tier in ("flash", "basic", "standard", "advanced")],
        ({"tier": "platinum"}, False),
        *[({"ocr_mode": mode}, True) for mode in ("auto", "txt", "ocr")],
        ({"ocr_mode": "sometimes"}, False),
        ({"page_range": "1-5,8,r3-r1"}, True),
        ({"page_range": "1" * 201}, False),
        ({"page_range": 3}, False),
        ({"backend": "vlm"}, False),
    ],
}


@pytest.mark.parametrize("name", list(registry.BUILTIN))
def test_published_schema_agrees_with_parse_options(name: str) -> None:
    cls = registry.get(name)
    schema = cls.options_schema()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    assert json.loads(json.dumps(schema)) == schema  # plain JSON, as /v1/info sends it
    for options, expected in COMMON + CASES[name]:
        value = options_from_json(options if isinstance(options, str) else json.dumps(options))
        try:
            cls.parse_options(value)
            parsed = True
        except InvalidOption:
            parsed = False
        assert parsed is expected, (name, options, "parse_options")
        assert validator.is_valid(value) is expected, (name, options, "schema")


def test_numbers_carry_their_ranges() -> None:
    properties = registry.get("rapidocr").options_schema()["properties"]
    number = next(s for s in properties["text_score"]["anyOf"] if s.get("type") == "number")
    assert (number["minimum"], number["maximum"]) == (0, 1)
    tokens = registry.get("deepseek-ocr").options_schema()["properties"]["max_tokens"]["anyOf"][0]
    assert tokens == {"type": "integer", "exclusiveMinimum": 0, "maximum": 32768}


@pytest.mark.parametrize(
    "text",
    ['{"text_score": NaN}', '{"text_score": Infinity}', '{"a": -Infinity}', '{"text_score": 1e400}'],
)
def test_nan_and_infinity_are_not_json(text: str) -> None:
    """Refused while parsing: NaN and Infinity are not JSON, 1e400 is one Python reads as infinity."""
    with pytest.raises(InvalidOption, match=r"not a JSON number|not allowed"):
        options_from_json(text)
