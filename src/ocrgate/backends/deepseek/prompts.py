"""DeepSeek-OCR's prompts and resolution modes, as its model card and repository document them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ocrgate.errors import InvalidOption

#: the tag that marks where the image goes in a raw (non-chat) prompt
IMAGE_TAG = "<image>"


class Mode(StrEnum):
    document = "document"  # markdown with grounding boxes (the default)
    free = "free"  # plain OCR, no layout
    figure = "figure"  # parse a chart or figure
    describe = "describe"  # describe the image in words
    locate = "locate"  # find a phrase: boxes only


PROMPTS: dict[Mode, str] = {
    Mode.document: "<|grounding|>Convert the document to markdown.",
    Mode.free: "Free OCR.",
    Mode.figure: "Parse the figure.",
    Mode.describe: "Describe this image in detail.",
    Mode.locate: "Locate <|ref|>{phrase}<|/ref|> in the image.",
}


@dataclass(frozen=True)
class Resolution:
    """How the model's image processor sizes a page: global view, tile size, tiling on or off."""

    base_size: int
    image_size: int
    crop_mode: bool


RESOLUTIONS: dict[str, Resolution] = {
    "tiny": Resolution(512, 512, False),
    "small": Resolution(640, 640, False),
    "base": Resolution(1024, 1024, False),
    "large": Resolution(1280, 1280, False),
    "gundam": Resolution(1024, 640, True),
}


def build_prompt(mode: Mode, prompt: str | None = None, phrase: str | None = None) -> str:
    """The text prompt without the image tag: a custom `prompt` wins over the mode's own."""
    if prompt:
        return prompt.replace(IMAGE_TAG, "").lstrip("\n")
    if mode is Mode.locate:
        if not phrase:
            raise InvalidOption("mode `locate` needs `phrase`: the text to find on the page")
        return PROMPTS[mode].format(phrase=phrase)
    return PROMPTS[mode]


def raw_prompt(text: str) -> str:
    """The prompt as the model sees it outside a chat template: the image tag, a newline, the text."""
    return f"{IMAGE_TAG}\n{text}"
