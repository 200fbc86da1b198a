"""Mastodon: a status with its media, on the instance the channel names.

The REST API as documented at docs.joinmastodon.org:
- media: ``POST /api/v2/media`` (multipart ``file``, ``description``) answers 200 with the
  attachment, or 202 while the instance still processes it; ``GET /api/v1/media/{id}`` then
  answers 206 until it is ready (200). A status cannot carry media still being processed.
- status: ``POST /api/v1/statuses`` with ``Idempotency-Key`` (the job id). The instance keeps
  the key an hour: a retry after an uncertain call within that time returns the first status
  instead of posting again. There is no search by key, so ``lookup`` cannot find the post.
- ``GET /api/v1/accounts/verify_credentials`` checks the token. Tokens do not expire, so
  there is nothing to refresh.
- Rate limits: 300 calls per 5 minutes per account, told in ``X-RateLimit-*`` headers; a 429
  says when the window resets in ``X-RateLimit-Reset`` (an ISO 8601 time).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from herald.common.platforms import MASTODON
from herald.publisher.adapters.platforms import media
from herald.publisher.adapters.platforms.base import Content, Target
from herald.publisher.adapters.platforms.http_errors import (
    classify_response,
    explained,
    send,
)
from herald.publisher.adapters.platforms.post_limits import post_text
from herald.publisher.domain.errors import (
    PublishError,
    TransientPublishError,
)
from herald.publisher.domain.retry_policy import RetryPolicy

MB = 1024 * 1024
# Mastodon 4's defaults (an instance may set others): images 16 MB, video and audio 99 MB.
RULES = media.MediaRules(
    {
        **dict.fromkeys(
            ("image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"), 16 * MB
        ),
        **dict.fromkeys(("video/mp4", "video/webm", "video/quicktime"), 99 * MB),
        **dict.fromkeys(("audio/mpeg", "audio/ogg", "audio/wav", "audio/mp4"), 99 * MB),
    }
)
MAX_MEDIA = 4  # attachments per status
DEFAULT_MAX_CHARACTERS = 500  # the instance's configuration says; a channel may set its own
PROCESSING_DEADLINE_S = 60.0
PROCESSING_POLL_S = 0.5


class MastodonAdapter:
    info = MASTODON
    retry_policy = RetryPolicy()

    def __init__(self, client: httpx.AsyncClient, *, allow_private: bool = False):
        self._client = client
        self._allow_private = allow_private

    async def publish(self, target: Target, content: Content, idempotency_key: str) -> str:
        limit = int(target.config.get("max_characters") or DEFAULT_MAX_CHARACTERS)
        text = post_text(content, platform="Mastodon", max_chars=limit, max_media=MAX_MEDIA)
        base, headers = _base(target), _auth(target)
        await media.guarded(base, self._allow_private, "instance_url_forbidden")
        media_ids = [await self._upload(base, headers, url) for url in content.media_urls]
        body: dict[str, Any] = {"status": text, "media_ids": media_ids}
        if visibility := target.config.get("visibility"):
            body["visibility"] = visibility
        status = await self._call(
            "POST",
            f"{base}/api/v1/statuses",
            json=body,
            headers={**headers, "Idempotency-Key": idempotency_key},
        )
        return str(status.json()["id"])

    async def lookup(self, target: Target, idempotency_key: str, content: Content) -> str | None:
        """Mastodon cannot find a status by its key; posting again with the same key within
        the hour it keeps keys returns the first status instead (``publish``)."""
        return None

    async def verify(self, target: Target) -> str:
        """The account the token acts for (``@name``); raises ``AuthExpiredError`` if refused."""
        await media.guarded(_base(target), self._allow_private, "instance_url_forbidden")
        answer = await self._call(
            "GET", f"{_base(target)}/api/v1/accounts/verify_credentials", headers=_auth(target)
        )
        return f"@{answer.json().get('acct', '')}"

    async def _upload(self, base: str, headers: dict[str, str], url: str) -> str:
        async with media.opened(
            self._client, url, RULES, allow_private=self._allow_private
        ) as source:
            content_type, body = media.multipart(source, "file")
            answer = await self._call(
                "POST",
                f"{base}/api/v2/media",
                content=body,
                headers={**headers, "Content-Type": content_type},
            )
        attachment = answer.json()
        media_id = str(attachment["id"])
        if answer.status_code == 202 or attachment.get("url") is None:
            await self._processed(base, headers, media_id)
        return media_id

    async def _processed(self, base: str, headers: dict[str, str], media_id: str) -> None:
        """Wait for the instance to finish processing an upload (206 until it is ready)."""
        deadline = time.monotonic() + PROCESSING_DEADLINE_S
        while time.monotonic() < deadline:
            answer = await self._call("GET", f"{base}/api/v1/media/{media_id}", headers=headers)
            if answer.status_code == 200:
                return
            await asyncio.sleep(PROCESSING_POLL_S)
        raise TransientPublishError("media_processing", f"media {media_id} still processing")

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await send(self._client, method, url, _refused, **kwargs)


def _refused(response: httpx.Response) -> PublishError:
    now = datetime.now(UTC)
    wait = response.headers.get("retry-after") or _reset_in(response, now)
    error = classify_response(response.status_code, wait, now)
    return explained(error, _error_text(response))


def _reset_in(response: httpx.Response, now: datetime) -> str | None:
    """Seconds until ``X-RateLimit-Reset`` (an ISO 8601 time), as a Retry-After value."""
    reset = response.headers.get("x-ratelimit-reset")
    if response.status_code != 429 or not reset:
        return None
    try:
        when = datetime.fromisoformat(reset.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return str(max(0, round((when - now).total_seconds())))


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", ""))[:300] if isinstance(body, dict) else ""


def _base(target: Target) -> str:
    return str(target.config["instance_url"]).rstrip("/")


def _auth(target: Target) -> dict[str, str]:
    return {"Authorization": f"Bearer {target.credentials.get('access_token', '')}"}
