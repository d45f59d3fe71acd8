"""A backend that answers like a compromised or buggy engine: script in its text and table HTML, event
handlers, javascript: links, boxes far outside the page. Registered per test through `class_path =
"tests.reliability.hostile_backend:HostileBackend"`; what the gateway makes of its answers is the test.
"""

from __future__ import annotations

from ocrgate.backends.base import Backend, BackendOptions
from ocrgate.documents import PageImage
from ocrgate.schema import Block, PageResult

SCRIPT_TABLE = (
    '<table><tr><td onclick="alert(1)">cell<script>alert(2)</script></td>'
    '<td><a href="javascript:alert(3)">link</a><img src=x onerror="alert(4)"></td></tr></table>'
)


class HostileBackend(Backend):
    name = "hostile"

    def load(self) -> None:
        self.loaded = True

    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        far = float(page.width * 1000)
        blocks = [
            Block(
                kind="text", text="<script>alert('text')</script> a < b & c", bbox=(-50.0, -50.0, far, far)
            ),
            Block(kind="table", text="", html=SCRIPT_TABLE, bbox=(0.0, 0.0, 10.0, 10.0)),
            Block(kind="figure", text="", bbox=(far, far, far * 2, far * 2)),
        ]
        return PageResult(index=page.index, width=page.width, height=page.height, blocks=blocks)
