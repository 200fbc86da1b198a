"""X (API v2): a post with its media, as the account whose OAuth 2 tokens the channel holds.

The API as docs.x.com documents it:
- media: ``POST /2/media/upload/initialize`` (type, total size, category), then the bytes in
  segments (``POST /2/media/upload/{id}/append``, multipart ``media`` + ``segment_index``),
  ``POST /2/media/upload/{id}/finalize``, and for video ``GET /2/media/upload?command=STATUS``
  until processing succeeds. The source is read a segment at a time: memory holds one segment.
  X needs the size first, so a source that does not declare it is refused before the upload.
- post: ``POST /2/tweets`` → 201 ``{"data": {"id"}}``. X keeps no idempotency key: after an
  uncertain attempt the publisher asks ``lookup`` first, which looks for our text among the
  account's latest posts. X refuses the same text twice (403 "duplicate content"), a
  permanent error: the other post may not be ours, so it is never taken for ours.
- OAuth 2 with PKCE; refresh tokens rotate (each works once), the client authenticates with
  HTTP Basic, and a spent or revoked refresh token is answered ``invalid_request``.
- Rate limits in ``x-rate-limit-*``; a 429's wait is ``x-rate-limit-reset`` (Unix seconds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx

from herald.common.platforms import X
from herald.publisher.adapters.platforms import media
from herald.publisher.adapters.platforms.base import Content, Target
from herald.publisher.adapters.platforms.http_errors import classify_response, explained
from herald.publisher.adapters.platforms.oauth_api import OAuthApiAdapter
from herald.publisher.adapters.platforms.post_limits import post_text
from herald.publisher.domain.errors import (
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)
from herald.publisher.domain.retry_policy import RetryPolicy

MB = 1024 * 1024
RULES = media.MediaRules(
    {
        **dict.fromkeys(("image/jpeg", "image/png", "image/webp"), 5 * MB),
        "image/gif": 15 * MB,
        **dict.fromkeys(("video/mp4", "video/quicktime"), 512 * MB),
    }
)
SEGMENT = 4 * MB  # X takes up to 5 MB per segment
MAX_TEXT = 280
MAX_MEDIA = 4
PROCESSING_DEADLINE_S = 120.0
TIMELINE_DEPTH = 20  # posts of the account that ``lookup`` reads


class XAdapter(OAuthApiAdapter):
    info = X
    retry_policy = RetryPolicy()

    async def publish(self, target: Target, content: Content, idempotency_key: str) -> str:
        text = _text(content)
        ids = [await self._upload(target, url) for url in content.media_urls]
        body: dict[str, Any] = {"text": text}
        if ids:
            body["media"] = {"media_ids": ids}
        answer = await self._call(target, "POST", "/2/tweets", json=body)
        return str(answer.json()["data"]["id"])

    async def lookup(self, target: Target, idempotency_key: str, content: Content) -> str | None:
        """Our post among the account's latest, by its text."""
        me = (await self._call(target, "GET", "/2/users/me")).json()["data"]["id"]
        params = {"max_results": TIMELINE_DEPTH}
        latest = await self._call(target, "GET", f"/2/users/{me}/tweets", params=params)
        text = _text(content)
        for post in latest.json().get("data", []):
            if post.get("text") == text:
                return str(post["id"])
        return None

    async def verify(self, target: Target) -> str:
        """``@username`` of the account the tokens act for."""
        me = (await self._call(target, "GET", "/2/users/me")).json()["data"]
        return f"@{me.get('username', me.get('id', ''))}"

    async def _upload(self, target: Target, url: str) -> str:
        async with media.opened(self._client, url, RULES, allow_private=self._allow_private) as m:
            if m.length is None:
                raise PermanentPublishError(
                    "media_size_unknown",
                    f"{m.filename}: X needs the size first and the media host did not send it",
                )
            started = await self._call(
                target,
                "POST",
                "/2/media/upload/initialize",
                json={
                    "media_type": m.content_type,
                    "total_bytes": m.length,
                    "media_category": _category(m.content_type),
                },
            )
            media_id = str(started.json()["data"]["id"])
            await self._append_all(target, media_id, m)
        done = await self._call(target, "POST", f"/2/media/upload/{media_id}/finalize")
        if done.json().get("data", {}).get("processing_info"):
            await self._processed(target, media_id)
        return media_id

    async def _append_all(self, target: Target, media_id: str, source: media.Media) -> None:
        buffer, index = bytearray(), 0
        async for chunk in source.chunks():
            buffer += chunk
            while len(buffer) >= SEGMENT:
                segment = bytes(memoryview(buffer)[:SEGMENT])
                del buffer[:SEGMENT]
                await self._append(target, media_id, index, segment)
                index += 1
        if buffer:
            await self._append(target, media_id, index, bytes(buffer))

    async def _append(self, target: Target, media_id: str, index: int, segment: bytes) -> None:
        content_type, body = media.multipart_body(
            "media",
            "segment",
            "application/octet-stream",
            _once(segment),
            {"segment_index": str(index)},
        )
        await self._call(
            target,
            "POST",
            f"/2/media/upload/{media_id}/append",
            content=body,
            headers={"Content-Type": content_type},
        )

    async def _processed(self, target: Target, media_id: str) -> None:
        deadline = time.monotonic() + PROCESSING_DEADLINE_S
        params = {"command": "STATUS", "media_id": media_id}
        while time.monotonic() < deadline:
            answer = await self._call(target, "GET", "/2/media/upload", params=params)
            info = answer.json().get("data", {}).get("processing_info", {})
            state = info.get("state")
            if state == "succeeded":
                return
            if state == "failed":
                raise PermanentPublishError(
                    "media_processing_failed", f"X could not process media {media_id}"
                )
            await asyncio.sleep(min(5.0, float(info.get("check_after_secs") or 1)))
        raise TransientPublishError("media_processing", f"media {media_id} still processing")

    async def _call(
        self,
        target: Target,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        url = f"{self._api}{path}"
        return await self._send(target, method, url, _refused, headers, **kwargs)


def _refused(response: httpx.Response) -> PublishError:
    wait = response.headers.get("retry-after")
    reset = response.headers.get("x-rate-limit-reset", "")
    if response.status_code == 429 and wait is None and reset.isdigit():
        wait = str(max(0, int(reset) - int(time.time())))
    error = classify_response(response.status_code, wait, datetime.now(UTC))
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return explained(error, detail)


async def _once(segment: bytes) -> AsyncIterator[bytes]:
    yield segment


def _category(content_type: str) -> str:
    if content_type == "image/gif":
        return "tweet_gif"
    return "tweet_video" if content_type.startswith("video/") else "tweet_image"


def _text(content: Content) -> str:
    return post_text(content, platform="X", max_chars=MAX_TEXT, max_media=MAX_MEDIA)
