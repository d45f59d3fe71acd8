"""The backend registry: built-ins by name, third parties through the `ocrgate.backends` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ocrgate.backends import registry
from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.errors import InvalidOption, UnknownBackend


def test_builtins_are_listed_without_importing_engines() -> None:
    code = (
        "import sys; from ocrgate.backends import registry; "
        "print(registry.names()); print('onnxruntime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'rapidocr', 'tesseract'" in out
    assert out.strip().endswith("False")


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(UnknownBackend, match="rapidocr"):
        registry.get("no-such-engine")


def test_unknown_request_option_is_refused() -> None:
    cls = registry.get("rapidocr")
    with pytest.raises(InvalidOption, match="colour"):
        cls.parse_options({"colour": "blue"})
    assert isinstance(cls.parse_options({}), BackendOptions)
    assert issubclass(cls, Backend)


def test_third_party_backend_registers_through_an_entry_point(tmp_path: Path) -> None:
    (tmp_path / "echo_backend.py").write_text(
        textwrap.dedent("""
        from ocrgate.backends.base import Backend
        from ocrgate.schema import Block, PageResult

        class EchoBackend(Backend):
            name = "echo"

            def load(self):
                self.loaded = True

            def ocr_page(self, page, options):
                box = (0, 0, page.width, page.height)
                return PageResult(index=page.index, width=page.width, height=page.height,
                                  blocks=[Block(text="echo", bbox=box)])
    """)
    )
    dist = tmp_path / "echo_backend-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[ocrgate.backends]\necho = echo_backend:EchoBackend\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    listing = subprocess.run(
        [sys.executable, "-m", "ocrgate", "backends"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "echo" in listing
    sample = Path(__file__).resolve().parents[1] / "src" / "ocrgate" / "samples" / "sample_page.png"
    markdown = subprocess.run(
        [sys.executable, "-m", "ocrgate", "ocr", str(sample), "--backend", "echo", "--format", "md"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert markdown.strip() == "echo"


def test_config_can_name_a_backend_class_directly(phototest: Path) -> None:
    from ocrgate.config import BackendConfig
    from ocrgate.documents import open_document

    registry.configure({"probe": BackendConfig(class_path="bench.noop_backend:NoopBackend")})
    backend = registry.create("probe")
    assert "probe" in registry.names()
    page = open_document(phototest.read_bytes(), "p.png").page(0)
    assert backend.ocr_page(page, backend.parse_options({})).width == 640
