"""A host of media files of any size, made up as they are sent (nothing held in memory):
``GET /files/{name}?size=N&type=image/png`` streams N deterministic bytes of that type, with
a Content-Length unless ``&undeclared=1`` (chunked, as a proxy might send it)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.serving import serving

BLOCK = 64 * 1024


def content(name: str, size: int) -> Iterator[bytes]:
    """The bytes of file ``name`` of ``size`` bytes, a block at a time."""
    block = hashlib.sha256(name.encode()).digest() * (BLOCK // 32)
    whole, rest = divmod(size, BLOCK)
    for _ in range(whole):
        yield block
    if rest:
        yield block[:rest]


def sha256_of(name: str, size: int) -> str:
    digest = hashlib.sha256()
    for chunk in content(name, size):
        digest.update(chunk)
    return digest.hexdigest()


async def _file(request: Request) -> Response:
    name = request.path_params["name"]
    size = int(request.query_params.get("size", "1024"))
    headers = {} if request.query_params.get("undeclared") else {"Content-Length": str(size)}

    async def body() -> AsyncIterator[bytes]:
        for chunk in content(name, size):
            yield chunk

    media_type = request.query_params.get("type", "image/png")
    return StreamingResponse(body(), media_type=media_type, headers=headers)


@contextlib.asynccontextmanager
async def media_host() -> AsyncIterator[str]:
    """Yields the base URL; a file is ``{base}/files/{name}?size=…&type=…``."""
    async with serving(Starlette(routes=[Route("/files/{name}", _file)])) as base:
        yield base
