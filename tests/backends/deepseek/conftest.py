"""The tiny random DeepSeek-OCR 2 on disk, built once per session, and the real pages it reads."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers.models.deepseek_ocr2")
    from tests.backends.deepseek.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("deepseek-ocr2-tiny"))
