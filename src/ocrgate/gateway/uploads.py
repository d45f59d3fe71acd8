"""Reading an upload with its size limit enforced while reading, then opening it as a Document."""

from __future__ import annotations

import time

import anyio
from fastapi import Request, UploadFile

from ocrgate.config import Limits
from ocrgate.documents import Document, open_document
from ocrgate.errors import FileTooLarge, InputError

CHUNK = 1 << 20
# multipart framing around the file: boundaries, headers, the small form fields
MULTIPART_SLACK = 64 * 1024


def check_content_length(request: Request, limits: Limits) -> None:
    """Refuse before reading a byte when the client already says the body is too large."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_upload_bytes + MULTIPART_SLACK:
        raise FileTooLarge(
            f"the upload has {int(declared):,} bytes; the limit is {limits.max_upload_bytes:,} bytes"
        )


async def read_upload(upload: UploadFile | None, limits: Limits) -> bytes:
    if upload is None:
        raise InputError("no file sent: use a multipart form with a `file` field")
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limits.max_upload_bytes:
            raise FileTooLarge(f"the file is over the limit of {limits.max_upload_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def open_upload(
    upload: UploadFile | None, limits: Limits, dpi: int | None = None
) -> tuple[Document, bytes, float]:
    """The upload as a Document, its bytes, and the seconds spent reading and checking it."""
    started = time.perf_counter()
    data = await read_upload(upload, limits)
    name = (upload.filename if upload else None) or "upload"
    document = await anyio.to_thread.run_sync(open_document, data, name, limits, dpi)
    return document, data, time.perf_counter() - started
