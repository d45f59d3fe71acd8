"""Engine `api`: MinerU's own HTTP server (`mineru-api`), one task per call (see `api_client`).

Settings: `url` (the server; the launcher sets it when it starts the server from
`[backends.mineru.server]`), `api_key`, `timeout_s` (one document, queue included; 3600),
`request_timeout_s` (one HTTP request; 120), `poll_interval_s` (1.0), `sync_wait_s` (60),
`start_timeout_s` (how long `load` waits for the server's health; 900).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ocrgate.backends.engines import parse_settings
from ocrgate.backends.mineru.api_client import ApiSettings, MinerUApiClient, query_params
from ocrgate.backends.mineru.engine import MinerUEngine
from ocrgate.documents import PDF
from ocrgate.errors import BackendUnavailable

#: what we ask mineru-api for (4.0.12 offers markdown, middle_json, structured_content and zip)
OUTPUT_FORMATS = ["structured_content"]


class ApiEngine(MinerUEngine):
    """The `api` engine: PDFs through the task API (polled), images through `file_parse`."""

    name: ClassVar[str] = "api"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(settings)
        if not self.settings.get("url"):
            raise BackendUnavailable(
                "mineru (api): no server: set `url` in [backends.mineru.options] or give the backend a "
                "[backends.mineru.server]"
            )
        given = {k: v for k, v in self.settings.items() if k in ApiSettings.model_fields and v is not None}
        self.config = parse_settings(ApiSettings, given, "mineru (api)")
        self.start_timeout_s = float(self.settings.get("start_timeout_s", 900))
        self.client = MinerUApiClient(self.config)
        self.server_version: str | None = None

    def load(self) -> None:
        self.server_version = str(self.client.wait_ready(self.start_timeout_s).get("version") or "") or None

    def version(self) -> str | None:
        return self.server_version

    def info(self) -> dict[str, Any]:
        return {"engine": self.name, "url": self.config.url, "version": self.server_version}

    def parse(
        self, data: bytes, media_type: str, filename: str, query: Mapping[str, str | None]
    ) -> dict[str, Any]:
        params = query_params(query, OUTPUT_FORMATS)
        file = self.client.parse(data, filename, media_type, params, sync=media_type != PDF)
        structured = file.content.get("structured_content")
        return structured if isinstance(structured, dict) else {}

    def close(self) -> None:
        self.client.close()
