"""LinkedIn video: the Videos API's upload in parts, as Microsoft Learn documents it.

- ``POST /rest/videos?action=initializeUpload`` takes the owner and the file's size (so a
  source that does not declare its size is refused before the upload) and answers the
  video's URN, an ``uploadToken`` and ``uploadInstructions``: one upload URL per part of
  4 MB (the last one shorter), with the part's ``firstByte`` and ``lastByte``.
- Each part is a ``PUT`` of exactly its bytes, cut from the source as it streams: memory
  holds one chunk of the source, never a part. Each answer's ``ETag`` is kept, and
  ``POST /rest/videos?action=finalizeUpload`` gets them in the order of the parts.
- LinkedIn then processes the video: ``GET /rest/videos/{urn}`` says ``WAITING_UPLOAD`` or
  ``PROCESSING`` until ``AVAILABLE``; ``PROCESSING_FAILED`` is a permanent error. A video
  still processing after ``PROCESSING_DEADLINE_S`` is a transient one: the job is retried,
  with a new upload (nothing finds this video again).
- MP4 of 75 KB to 500 MB (and 3 s to 30 min, which only LinkedIn can check).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx

from herald.publisher.adapters.platforms import media
from herald.publisher.domain.errors import PermanentPublishError, TransientPublishError

Call = Callable[..., Awaitable[httpx.Response]]  # one versioned, authorized API call
TYPES = ("video/mp4",)
MIN_BYTES = 75 * 1024
MAX_BYTES = 500 * 1024 * 1024
PROCESSING_DEADLINE_S = 180.0
PROCESSING_POLL_S = 2.0


async def upload(call: Call, owner: str, source: media.Media) -> str:
    """Send ``source`` to LinkedIn part by part; the video's URN (uploaded, not yet processed)."""
    size = _size(source)
    started = await call(
        "POST",
        "/rest/videos",
        params={"action": "initializeUpload"},
        json={
            "initializeUploadRequest": {
                "owner": owner,
                "fileSizeBytes": size,
                "uploadCaptions": False,
                "uploadThumbnail": False,
            }
        },
    )
    value = started.json()["value"]
    urn = str(value["video"])
    parts, etags = Parts(source.chunks()), []
    for upload_url, length in plan(value["uploadInstructions"], size):
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        sent = await call("PUT", upload_url, content=parts.take(length), headers=headers)
        if not (etag := sent.headers.get("etag")):
            raise PermanentPublishError("no_part_etag", f"LinkedIn kept a part of {urn} untagged")
        etags.append(etag)
    await call(
        "POST",
        "/rest/videos",
        params={"action": "finalizeUpload"},
        json={
            "finalizeUploadRequest": {
                "video": urn,
                "uploadToken": str(value.get("uploadToken") or ""),
                "uploadedPartIds": etags,
            }
        },
    )
    return urn


async def processed(call: Call, urn: str) -> None:
    """Wait, within ``PROCESSING_DEADLINE_S``, until LinkedIn has processed the video."""
    deadline = time.monotonic() + PROCESSING_DEADLINE_S
    path = f"/rest/videos/{quote(urn, safe='')}"
    while True:
        video = (await call("GET", path)).json()
        status = video.get("status")
        if status == "AVAILABLE":
            return
        if status == "PROCESSING_FAILED":
            reason = video.get("processingFailureReason") or "no reason given"
            raise PermanentPublishError(
                "media_processing_failed", f"LinkedIn could not process video {urn}: {reason}"
            )
        if time.monotonic() >= deadline:
            raise TransientPublishError("media_processing", f"video {urn} still {status}")
        await asyncio.sleep(PROCESSING_POLL_S)


def plan(instructions: list[dict[str, Any]], size: int) -> list[tuple[str, int]]:
    """Each part's upload URL and length, in order; the parts must follow each other from the
    first byte to the last (the source is read once, front to back). Pure."""
    parts, expected = [], 0
    for part in instructions:
        first, last = int(part["firstByte"]), int(part["lastByte"])
        if first != expected or last < first:
            break
        parts.append((str(part["uploadUrl"]), last - first + 1))
        expected = last + 1
    if expected != size or len(parts) != len(instructions):
        raise PermanentPublishError(
            "upload_plan_unusable", f"LinkedIn's upload parts do not cover {size:,} bytes in order"
        )
    return parts


class Parts:
    """A stream of chunks cut into consecutive parts of given lengths, each part an iterator
    of its bytes as they come. It holds at most one chunk: the rest of one that spans two
    parts, kept for the next."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    async def take(self, length: int) -> AsyncIterator[bytes]:
        """Exactly the next ``length`` bytes; transient if the source ends first."""
        left = length
        while left > 0:
            chunk = self._rest or await anext(self._chunks, b"")
            if not chunk:
                raise TransientPublishError(
                    "media_truncated", f"the source ended {left:,} bytes short of a part"
                )
            piece, self._rest = chunk[:left], chunk[left:]
            del chunk
            left -= len(piece)
            yield piece


def _size(source: media.Media) -> int:
    if source.length is None:
        raise PermanentPublishError(
            "media_size_unknown",
            f"{source.filename}: LinkedIn needs a video's size first, and the media host "
            "did not send it (Content-Length)",
        )
    if source.length < MIN_BYTES:
        raise PermanentPublishError(
            "media_too_small",
            f"{source.filename} is {source.length:,} bytes; LinkedIn takes videos of "
            f"{MIN_BYTES:,} bytes or more",
        )
    return source.length
