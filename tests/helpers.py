"""Small helpers shared by tests: encoding images, comparing text the way the eval README does."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from PIL import Image
from rapidfuzz.distance import Levenshtein


def image_bytes(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def normalise(text: str) -> str:
    """Case-folded, white space collapsed: the comparison the eval README uses."""
    return " ".join(text.casefold().split())


def cer(hypothesis: str, truth: str) -> float:
    truth_n, hyp_n = normalise(truth), normalise(hypothesis)
    return Levenshtein.distance(hyp_n, truth_n) / max(1, len(truth_n))


def ocrgate_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`python -m ocrgate ARGS...` as a child process, from the repository root (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "ocrgate", *args],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
