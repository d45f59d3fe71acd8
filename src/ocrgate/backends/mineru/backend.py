"""Backend `mineru`: MinerU 4.x reads the original upload (PDFs natively), we parse its content list.

Engines (setting `engine`; each a `MinerUEngine`, see `engine`):
- `api` (default, `api_engine`): MinerU's HTTP server `mineru-api`, reached at `url` (the launcher
  sets it when it starts the server from `[backends.mineru.server]`). Multi-page PDFs go through the
  task API (`POST /v1/tasks`, then polling), single images through `POST /v1/file_parse` (falling
  back to polling when MinerU answers 202), so no document meets an HTTP timeout. See `api_client`.
- `inprocess` (`inprocess_engine`): MinerU's Python API inside the worker, which must run from
  MinerU's virtualenv.

Settings (`[backends.mineru.options]`): `engine`; `tier` and `ocr_mode` (defaults for requests that
set none; unset = the server's own default); `chunk_pages` (0 = one MinerU task per document, which
keeps MinerU's cross-page merging; N > 0 = tasks of N pages each, so progress moves every N pages);
plus the chosen engine's own settings (see `api_engine` and `inprocess_engine`).

Both engines take MinerU's `structured_content` (mineru-api 4.0.12 offers markdown, middle_json,
structured_content and zip, not the content list), turn it into MinerU's content-list entries
(`structured`) and parse those into blocks on our page images (`content_list`).

Request options (MinerU 4.0.12's own names, `mineru/parser/task_api.py: UploadTaskOptions`):
`tier` (flash | basic | standard | advanced), `ocr_mode` (auto | txt | ocr), `page_range` (PDFs:
"1-5,8,r3-r1"; pages outside it come back empty and flagged). `prompt` is accepted and ignored.
"""

from __future__ import annotations

import io
import time
from typing import ClassVar, Literal

from pydantic import Field

from ocrgate.backends.base import BackendOptions, Progress, WholeFile
from ocrgate.backends.engines import EngineBackend
from ocrgate.backends.mineru.content_list import parse_content_list
from ocrgate.backends.mineru.engine import MinerUEngine
from ocrgate.backends.mineru.page_range import chunks, format_pages, select_pages
from ocrgate.backends.mineru.structured import content_list_from_structured
from ocrgate.documents import PDF, PageImage
from ocrgate.errors import BackendUnavailable, InvalidOption, UnsupportedType
from ocrgate.schema import BackendHealth, PageResult

Tier = Literal["flash", "basic", "standard", "advanced"]
OcrMode = Literal["auto", "txt", "ocr"]
ENGINES: dict[str, str] = {
    "api": "ocrgate.backends.mineru.api_engine:ApiEngine",
    "inprocess": "ocrgate.backends.mineru.inprocess_engine:InProcessEngine",
}
# MinerU tells the type by the file name's extension
FILENAMES: dict[str, str] = {PDF: "document.pdf", "image/png": "page.png", "image/jpeg": "page.jpg"}


class MinerUOptions(BackendOptions):
    """Passed to MinerU under these names; unset ones take the backend's settings, then MinerU's."""

    tier: Tier | None = None
    ocr_mode: OcrMode | None = None
    page_range: str | None = Field(default=None, max_length=200, description="PDFs: '1-5,8,r3-r1'")


class MinerUBackend(EngineBackend):
    name: ClassVar[str] = "mineru"
    options_model: ClassVar[type[BackendOptions]] = MinerUOptions
    file_types: ClassVar[frozenset[str]] = frozenset(FILENAMES)
    engines: ClassVar[dict[str, str]] = ENGINES
    default_engine: ClassVar[str] = "api"

    def check_settings(self) -> None:
        defaults = {key: self.settings.get(key) for key in ("tier", "ocr_mode")}
        try:
            MinerUOptions.model_validate(defaults)
        except ValueError as exc:
            raise BackendUnavailable(f"mineru: bad tier / ocr_mode setting {defaults}: {exc}") from exc

    def health(self) -> BackendHealth:
        health = super().health()
        health.detail = health.detail or f"engine={self.engine_name}"
        health.device = "server" if self.engine_name == "api" else health.device
        if self.engine is not None:
            health.info = self.engine.info()
        return health

    def _query(self, options: MinerUOptions, page_range: str | None) -> dict[str, str | None]:
        return {
            "tier": options.tier or self.settings.get("tier"),
            "ocr_mode": options.ocr_mode or self.settings.get("ocr_mode"),
            "page_range": page_range,
        }

    def ocr_file(
        self, upload: WholeFile, options: BackendOptions, progress: Progress = None
    ) -> list[PageResult]:
        data, media_type, sizes = upload.data, upload.media_type, upload.sizes
        if not isinstance(options, MinerUOptions):
            options = self.parse_options(options.model_dump(exclude_unset=True))
        assert isinstance(options, MinerUOptions)
        if media_type not in FILENAMES:
            raise UnsupportedType(f"mineru reads {', '.join(FILENAMES)}, not {media_type}")
        engine = self.loaded_engine(MinerUEngine)
        requested = (options.page_range or "").strip()
        if media_type != PDF and requested not in ("", "all"):
            raise InvalidOption("page_range applies to PDFs only (MinerU reads an image as one page)")
        pages = select_pages(requested, len(sizes)) if media_type == PDF else list(range(len(sizes)))
        runs = chunks(pages, int(self.settings.get("chunk_pages", 0) or 0))
        whole = len(runs) == 1 and requested in ("", "all")
        total, done, entries = len(pages), 0, []
        started = time.perf_counter()
        if progress is not None:
            progress(0, total)
        for run in runs:
            query = self._query(options, None if whole else format_pages(run))
            structured = engine.parse(data, media_type, FILENAMES[media_type], query)
            entries += content_list_from_structured(structured)
            done += len(run)
            if progress is not None:
                progress(done, total)
        results = parse_content_list(entries, sizes)
        seconds = (time.perf_counter() - started) / max(1, total)
        selected = set(pages)
        for result in results:
            if result.index in selected:
                result.ocr_seconds = seconds
            else:
                result.flags.append("mineru: page not parsed (outside page_range)")
        return results

    def ocr_page(self, page: PageImage, options: BackendOptions) -> PageResult:
        buffer = io.BytesIO()
        page.image.convert("RGB").save(buffer, format="PNG", compress_level=1)
        result = self.ocr_file(
            WholeFile(buffer.getvalue(), "image/png", [(page.width, page.height)]), options
        )[0]
        result.index = page.index
        return result
