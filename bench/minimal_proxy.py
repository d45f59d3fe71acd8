"""The floor any Python proxy costs: a minimal Starlette app in front of one worker.

`POST /v1/ocr` parses the multipart upload (Starlette's form parser, as FastAPI uses) and forwards the
`file` part's bytes to a worker's `POST /v1/ocr` with one pooled aiohttp client, the gateway's own
(several workers are taken in turn), then answers the worker's JSON as it came. Nothing else: no
backend names, options, limits, admission, rendering. `bench.overhead` measures ocrgate's added
latency against this one's, and `bench.throughput` its pages per second, in the same run.

    python -m bench.minimal_proxy --worker http://127.0.0.1:PORT [--worker ...] --port PORT
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
from collections.abc import AsyncIterator

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def create_app(workers: list[str]) -> Starlette:
    """The proxy in front of the workers at `workers` (base URLs), taken in turn."""
    session: list[aiohttp.ClientSession] = []  # made in the lifespan, on the server's loop
    turn = itertools.cycle(workers)

    async def ocr(request: Request) -> Response:
        form = await request.form()
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return JSONResponse({"error": "no file"}, status_code=422)
            data = await upload.read()
            content_type = upload.content_type or "application/octet-stream"
        finally:
            await form.close()
        async with session[0].post(
            f"{next(turn)}/v1/ocr", data=data, params={"index": "0"}, headers={"content-type": content_type}
        ) as answer:
            content = await answer.read()
        return Response(content, status_code=answer.status, media_type="application/json")

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "healthy", "pid": os.getpid()})  # its CPU is measured by pid

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=512, limit_per_host=0)  # as the gateway's
        session.append(aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)))
        yield
        await session[0].close()

    routes = [Route("/v1/ocr", ocr, methods=["POST"]), Route("/health", health)]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", required=True, action="append", help="a worker's base URL")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # as the gateway and workers run: uvicorn with uvloop and httptools when installed
    uvicorn.run(create_app(args.worker), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
