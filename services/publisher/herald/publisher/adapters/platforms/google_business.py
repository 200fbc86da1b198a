"""Google Business Profile: a local post (``STANDARD``) on the location the channel names.

The API as Google documents it (My Business API v4):
- ``POST {api}/v4/{location}/localPosts`` with ``summary`` (up to 1,500 characters),
  ``languageCode``, ``topicType`` and media by ``sourceUrl`` (Google fetches them; photos
  JPEG or PNG of 10 KB to 5 MB, videos up to 75 MB, checked here from the source's headers
  before the post is made); the answer's ``name`` is the post's id.
- ``GET {api}/v4/{location}/localPosts`` lists the location's posts, newest first. Google
  keeps no idempotency key, so ``lookup`` looks for a recent post with the same summary.
- OAuth 2 with refresh tokens: access tokens live an hour; ``refresh`` asks Google's token
  endpoint (``invalid_grant`` means the tenant must connect again).
- Errors are ``{"error": {"code", "message", "status"}}``; RESOURCE_EXHAUSTED (429) has no
  Retry-After, so the retry policy's backoff decides.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from herald.common.platforms import GOOGLE_BUSINESS
from herald.publisher.adapters.platforms import media
from herald.publisher.adapters.platforms.base import Content, Target
from herald.publisher.adapters.platforms.http_errors import classify_response, explained
from herald.publisher.adapters.platforms.oauth_api import OAuthApiAdapter
from herald.publisher.adapters.platforms.post_limits import post_text
from herald.publisher.domain.errors import PublishError
from herald.publisher.domain.retry_policy import RetryPolicy

MB = 1024 * 1024
PHOTOS = media.MediaRules({"image/jpeg": 5 * MB, "image/png": 5 * MB})
VIDEOS = media.MediaRules({"video/mp4": 75 * MB, "video/quicktime": 75 * MB})
RULES = media.MediaRules({**PHOTOS.limits, **VIDEOS.limits})
MAX_SUMMARY = 1500
LOOKUP_WINDOW = timedelta(days=1)
"""How far back ``lookup`` trusts a post with the same summary to be ours."""


class GoogleBusinessAdapter(OAuthApiAdapter):
    info = GOOGLE_BUSINESS
    retry_policy = RetryPolicy()

    async def publish(self, target: Target, content: Content, idempotency_key: str) -> str:
        summary = _summary(content)
        formats = [await self._format(url) for url in content.media_urls]
        body: dict[str, Any] = {
            "languageCode": target.config.get("language_code") or "en",
            "summary": summary,
            "topicType": "STANDARD",
            "media": [
                {"mediaFormat": f, "sourceUrl": u}
                for f, u in zip(formats, content.media_urls, strict=True)
            ],
        }
        answer = await self._call("POST", _posts_url(self._api, target), target, json=body)
        return str(answer.json()["name"])

    async def lookup(self, target: Target, idempotency_key: str, content: Content) -> str | None:
        """A post of the last day with this summary: the one an uncertain attempt made."""
        answer = await self._call(
            "GET", _posts_url(self._api, target), target, params={"pageSize": 100}
        )
        since = datetime.now(UTC) - LOOKUP_WINDOW
        summary = _summary(content)
        for post in answer.json().get("localPosts", []):
            created = datetime.fromisoformat(str(post.get("createTime", "")).replace("Z", "+00:00"))
            if post.get("summary") == summary and created >= since:
                return str(post["name"])
        return None

    async def verify(self, target: Target) -> str:
        """The location, once Google lets these tokens read its posts."""
        await self._call("GET", _posts_url(self._api, target), target, params={"pageSize": 1})
        return str(target.config["location"])

    async def _format(self, url: str) -> str:
        """PHOTO or VIDEO, from the source's type; refused before posting if Google would."""
        async with media.opened(self._client, url, RULES, allow_private=self._allow_private) as m:
            return "VIDEO" if m.content_type in VIDEOS.limits else "PHOTO"

    async def _call(self, method: str, url: str, target: Target, **kwargs: Any) -> httpx.Response:
        return await self._send(target, method, url, _refused, **kwargs)


def _refused(response: httpx.Response) -> PublishError:
    error = classify_response(
        response.status_code, response.headers.get("retry-after"), datetime.now(UTC)
    )
    try:
        detail = response.json().get("error", {})
    except (ValueError, AttributeError):
        detail = {}
    if not isinstance(detail, dict) or not detail.get("message"):
        return error
    return explained(error, f"{detail.get('status', '')} {detail['message']}")


def _summary(content: Content) -> str:
    return post_text(content, platform="Google", max_chars=MAX_SUMMARY)


def _posts_url(api: str, target: Target) -> str:
    return f"{api}/v4/{target.config['location']}/localPosts"
