"""Reading an upload with its size limit enforced while reading, then opening it as a Document.

`UploadLimit` guards the whole request body before any parsing: a declared Content-Length over the
limit is refused before a byte is read, and a body that grows past it while it streams in (chunked,
with no length given) is cut off at that point, so neither memory nor the multipart spool ever
holds more than the limit. `read_upload` then checks the file part itself against the exact limit.
"""

from __future__ import annotations

import time

import anyio
from fastapi import Request, UploadFile
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocrgate.config import Limits
from ocrgate.documents import Document, open_document
from ocrgate.errors import FileTooLarge, InputError
from ocrgate.http_errors import error_response

CHUNK = 1 << 20
# multipart framing around the file: boundaries, headers, the small form fields
MULTIPART_SLACK = 64 * 1024


def body_limit(limits: Limits) -> int:
    """The most bytes a request body may have: the file limit plus the multipart framing around it."""
    return limits.max_upload_bytes + MULTIPART_SLACK


def _declared_too_large(headers: Headers, limits: Limits) -> FileTooLarge | None:
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_limit(limits):
        return FileTooLarge(
            f"the upload has {int(declared):,} bytes; the limit is {limits.max_upload_bytes:,} bytes"
        )
    return None


def check_content_length(request: Request, limits: Limits) -> None:
    """Refuse before reading a byte when the client already says the body is too large."""
    if error := _declared_too_large(request.headers, limits):
        raise error


class _BodyOverLimit(Exception):
    """Raised into the app from `receive` when the body passes the limit; never leaves the middleware."""


class UploadLimit:
    """Pure ASGI middleware: at most `body_limit(limits)` bytes of request body are ever read.

    Over the limit the app's own answer (whatever it made of the interrupted read) is replaced by
    413 `file_too_large`, sent at once, while the client may still be sending; the server drops the
    rest of the body as it arrives instead of keeping it.
    """

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.max_body = body_limit(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if error := _declared_too_large(Headers(scope=scope), self.limits):
            await self._refuse(scope, receive, send, error)
            return
        received = 0
        over = False
        answered = False

        async def counted_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    over = True
                    raise _BodyOverLimit
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if over:  # the app's reply to the cut-off read is replaced by the 413 below
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _BodyOverLimit:
            pass
        except Exception:
            if not over:
                raise
        if over and not answered:
            message = f"the upload is over the limit of {self.limits.max_upload_bytes:,} bytes"
            await self._refuse(scope, receive, send, FileTooLarge(message))

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: FileTooLarge) -> None:
        response = error_response(error.status, error.code, error.message)
        await response(scope, receive, send)


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
