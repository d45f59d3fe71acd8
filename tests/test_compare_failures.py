"""A comparison answers with the engines that read the page, and each engine that could not with its
error (`success: false`), in process; through the gateway with an engine down: tests/gateway/test_faults."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from bench.noop_backend import NoopBackend

from ocrgate import flow
from ocrgate.backends import registry
from ocrgate.documents import open_document
from ocrgate.errors import BackendUnavailable
from ocrgate.inprocess import LocalRecognizer
from ocrgate.schema import CompareResponse


def test_an_engine_that_read_nothing_is_answered_with_its_error(phototest: Path) -> None:
    """DeepSeek-OCR without its server is a real backend that cannot read (no vLLM here)."""
    unconfigured = registry.create("deepseek-ocr")
    assert unconfigured.unavailable(), "this test needs DeepSeek-OCR to be unavailable"
    document = open_document(phototest.read_bytes(), "phototest.png")
    readers = [LocalRecognizer(NoopBackend({})), LocalRecognizer(unconfigured)]
    try:
        response = anyio.run(lambda: flow.recognize(document, readers, {}, "none"))
        assert isinstance(response, CompareResponse)
        assert response.backends == ["noop", "deepseek-ocr"]
        ok, failed = response.results["noop"], response.results["deepseek-ocr"]
        assert ok.success and ok.error is None and ok.status == "complete"
        assert not failed.success and failed.error is not None and failed.status == "partial"
        assert failed.error.code == "backend_unavailable" and failed.pages[0].flags[0].startswith("failed: ")
        assert response.agreement == []
        nobody = [LocalRecognizer(unconfigured), LocalRecognizer(registry.create("mineru"))]
        with pytest.raises(BackendUnavailable, match="deepseek"):  # nothing read: the first one's error
            anyio.run(lambda: flow.recognize(document, nobody, {}, "none"))
    finally:
        document.close()


def test_a_down_engine_fails_each_page_with_an_error_of_its_own(phototest: Path) -> None:
    """`recognize.Unavailable` (an engine found down when a comparison starts) raises a fresh copy of
    its error for every page, so no one exception accumulates every page's traceback."""
    from ocrgate.gateway.recognize import Unavailable

    down = Unavailable("mineru", BackendUnavailable("mineru has no healthy worker"))
    document = open_document(phototest.read_bytes(), "phototest.png")
    raised = []
    try:
        for _ in range(2):
            with pytest.raises(BackendUnavailable, match="no healthy worker") as caught:
                anyio.run(lambda: down.page(document.page(0), {}))
            raised.append(caught.value)
    finally:
        document.close()
    assert raised[0] is not raised[1] and raised[0] is not down.error
