"""LinkedIn: a post by the organization (or member) the channel names, through the versioned
REST API as Microsoft Learn documents it (Posts API, Images API, Videos API).

- Every call sends ``LinkedIn-Version`` (YYYYMM) and ``X-Restli-Protocol-Version: 2.0.0``.
- images: ``POST /rest/images?action=initializeUpload`` gives an upload URL and the image's
  URN; the bytes are ``PUT`` there as a stream from the source (JPEG, PNG, GIF up to 36 MB
  here). One image is ``content.media``; two to twenty are ``content.multiImage``.
- video: one MP4 per post, alone (``content.media`` with its title), uploaded in parts and
  processed before the post (``linkedin_video``). A post cannot mix video and images: with
  several files, each source's headers are read first, so a mix fails before any upload.
- post: ``POST /rest/posts`` → 201 with the URN in ``x-restli-id``. LinkedIn keeps no
  idempotency key; ``lookup`` reads the author's latest posts for our text, and the same
  commentary twice is refused (422 DUPLICATE_POST), a permanent error.
- OAuth 2: tokens live 60 days, refresh tokens a year (for apps LinkedIn allows them);
  errors are ``{"status", "serviceErrorCode", "code", "message"}``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx

from herald.common.platforms import LINKEDIN
from herald.publisher.adapters.platforms import linkedin_video, media
from herald.publisher.adapters.platforms.base import Content, Target
from herald.publisher.adapters.platforms.http_errors import classify_response, explained
from herald.publisher.adapters.platforms.oauth_api import OAuthApiAdapter
from herald.publisher.adapters.platforms.post_limits import post_text
from herald.publisher.domain.errors import PermanentPublishError, PublishError
from herald.publisher.domain.retry_policy import RetryPolicy

MB = 1024 * 1024
RULES = media.MediaRules(
    {
        **dict.fromkeys(("image/jpeg", "image/png", "image/gif"), 36 * MB),
        **dict.fromkeys(linkedin_video.TYPES, linkedin_video.MAX_BYTES),
    }
)
API_VERSION = "202511"
MAX_TEXT = 3000
MAX_IMAGES = 20
LOOKUP_DEPTH = 20


class LinkedInAdapter(OAuthApiAdapter):
    info = LINKEDIN
    retry_policy = RetryPolicy()

    async def publish(self, target: Target, content: Content, idempotency_key: str) -> str:
        text = _text(content)
        author = str(target.config["author"])
        await self._refuse_mixed(content.media_urls)
        urns = [await self._upload(target, author, url) for url in content.media_urls]
        body: dict[str, Any] = {
            "author": author,
            "commentary": text,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(urns) == 1:
            video = urns[0].startswith("urn:li:video:")
            title = {"title": content.title} if video and content.title else {}
            body["content"] = {"media": {"id": urns[0], **title}}
        elif urns:
            body["content"] = {"multiImage": {"images": [{"id": i} for i in urns]}}
        answer = await self._call(target, "POST", "/rest/posts", json=body)
        urn = str(answer.headers.get("x-restli-id") or "")
        if not urn:
            raise PermanentPublishError("no_post_id", "LinkedIn answered 201 without x-restli-id")
        return urn

    async def lookup(self, target: Target, idempotency_key: str, content: Content) -> str | None:
        params = {"q": "author", "author": target.config["author"], "count": LOOKUP_DEPTH}
        answer = await self._call(target, "GET", "/rest/posts", params=params)
        text = _text(content)
        for post in answer.json().get("elements", []):
            if post.get("commentary") == text:
                return str(post["id"])
        return None

    async def verify(self, target: Target) -> str:
        """The author, once LinkedIn lets these tokens read its posts."""
        params = {"q": "author", "author": target.config["author"], "count": 1}
        await self._call(target, "GET", "/rest/posts", params=params)
        return str(target.config["author"])

    async def _refuse_mixed(self, urls: tuple[str, ...]) -> None:
        """A video goes alone. With several files, each source is opened for its headers
        (type and size) and closed before anything is uploaded."""
        if len(urls) < 2:
            return
        for url in urls:
            async with self._opened(url) as m:
                if _is_video(m.content_type):
                    raise PermanentPublishError(
                        "media_mixed",
                        f"{m.filename} is a video, one of {len(urls)} files; a LinkedIn post "
                        "carries one video alone, or images only",
                    )

    async def _upload(self, target: Target, author: str, url: str) -> str:
        call = partial(self._call, target)
        async with self._opened(url) as m:
            if not _is_video(m.content_type):
                return await _image(call, author, m)
            video = await linkedin_video.upload(call, author, m)
        await linkedin_video.processed(call, video)  # polled with the source closed
        return video

    def _opened(self, url: str) -> AbstractAsyncContextManager[media.Media]:
        return media.opened(self._client, url, RULES, allow_private=self._allow_private)

    async def _call(
        self,
        target: Target,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        url = path if path.startswith("http") else f"{self._api}{path}"
        versioned = {
            **(headers or {}),
            "LinkedIn-Version": API_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        return await self._send(target, method, url, _refused, versioned, **kwargs)


def _refused(response: httpx.Response) -> PublishError:
    error = classify_response(
        response.status_code, response.headers.get("retry-after"), datetime.now(UTC)
    )
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict) or not body.get("message"):
        return error
    return explained(error, f"{body.get('code', '')} {body['message']}")


async def _image(call: linkedin_video.Call, author: str, m: media.Media) -> str:
    started = await call(
        "POST",
        "/rest/images",
        params={"action": "initializeUpload"},
        json={"initializeUploadRequest": {"owner": author}},
    )
    value = started.json()["value"]
    headers = {"Content-Type": m.content_type}
    if m.length is not None:
        headers["Content-Length"] = str(m.length)
    await call("PUT", value["uploadUrl"], content=m.chunks(), headers=headers)
    return str(value["image"])


def _is_video(content_type: str) -> bool:
    return content_type.lower().startswith("video/")  # RULES admits MP4 alone


def _text(content: Content) -> str:
    return post_text(content, platform="LinkedIn", max_chars=MAX_TEXT, max_media=MAX_IMAGES)
