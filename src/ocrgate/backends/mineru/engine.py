"""What the MinerU backend asks of an engine: MinerU's structured content for one file.

Both engines (`api`: MinerU's HTTP server; `inprocess`: MinerU's Python API in the worker) return
what mineru-api 4.0.12 returns for `output_formats=structured_content`, so one parser
(`structured`, then `content_list`) turns either into our blocks.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from ocrgate.backends.engines import Engine


class MinerUEngine(Engine):
    """A MinerU engine: `parse` reads one whole file (PDF or image) with MinerU."""

    @abstractmethod
    def parse(
        self, data: bytes, media_type: str, filename: str, query: Mapping[str, str | None]
    ) -> dict[str, Any]:
        """MinerU's structured content for `data` (`filename`'s extension tells MinerU the type;
        `query`: MinerU's own option names, `tier`, `ocr_mode`, `page_range`, None = unset).
        InvalidOption for an option MinerU refuses, BackendError when it cannot parse the file."""
