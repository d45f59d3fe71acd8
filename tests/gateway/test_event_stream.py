"""`JobEventStream` driven through the ASGI interface with the installed sse-starlette: a job's end ends
the stream as the library ends it; a client that leaves closes the job's event source at once (its
listener in the runner goes); the server's stop is covered end to end in `test_shutdown.py`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from starlette.types import Message

from ocrgate.gateway.routes.jobs import JobEventStream

SCOPE = {"type": "http", "method": "GET", "path": "/v1/jobs/j1/events", "headers": []}


async def test_the_jobs_end_ends_the_stream_without_a_stopping_event() -> None:
    async def events() -> AsyncGenerator[dict[str, str], None]:
        yield {"event": "page", "data": "{}"}
        yield {"event": "job", "data": "{}"}

    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(JobEventStream(events(), "j1")(SCOPE, receive, send), 30)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b"event: page" in body and b"event: job" in body and b"stopping" not in body
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_a_client_that_leaves_closes_the_jobs_events_at_once() -> None:
    closed = asyncio.Event()
    left = asyncio.Event()

    async def events() -> AsyncGenerator[dict[str, str], None]:
        try:
            yield {"event": "page", "data": "{}"}
            await asyncio.sleep(3600)  # the job runs on
            yield {"event": "job", "data": "{}"}
        finally:
            closed.set()

    async def receive() -> Message:
        await left.wait()
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if b"event: page" in message.get("body", b""):
            left.set()

    await asyncio.wait_for(JobEventStream(events(), "j1")(SCOPE, receive, send), 30)
    assert closed.is_set()
    assert b"stopping" not in b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
