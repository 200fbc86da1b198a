"""A generic webhook channel: the post as JSON, POSTed to the tenant's URL and signed the
Standard Webhooks way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

``webhook-id`` is the job id, the same on every try, so the receiver drops repeats: an
uncertain attempt is simply sent again (there is nothing to look up). The receiver's answer
may carry ``{"id": ...}``, its own id for the post; otherwise the job id stands for it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from herald.common import webhook_signing
from herald.common.platforms import WEBHOOK
from herald.common.webhooks import TEST_EVENT, render_body
from herald.publisher.adapters.platforms import media
from herald.publisher.adapters.platforms.base import Content, Target
from herald.publisher.adapters.platforms.http_errors import classify_response, classify_transport
from herald.publisher.domain.retry_policy import RetryPolicy

POST_EVENT = "post.publish"


class WebhookAdapter:
    info = WEBHOOK
    retry_policy = RetryPolicy()

    def __init__(self, client: httpx.AsyncClient, *, allow_private: bool = False):
        self._client = client
        self._allow_private = allow_private

    async def publish(self, target: Target, content: Content, idempotency_key: str) -> str:
        data = {
            "post_id": idempotency_key,
            "title": content.title,
            "body": content.body,
            "media": [{"url": m} for m in content.media_urls],
        }
        response = await self._send(target, POST_EVENT, uuid.UUID(idempotency_key), data)
        return _their_id(response) or idempotency_key

    async def verify(self, target: Target) -> str:
        """Sends a signed ``webhook.test``; the receiver's 2xx says it takes our signature."""
        await self._send(target, TEST_EVENT, uuid.uuid4(), {"message": "Herald channel check"})
        return urlsplit(str(target.config["url"])).netloc

    async def _send(
        self, target: Target, event: str, message_id: uuid.UUID, data: dict[str, Any]
    ) -> httpx.Response:
        url = str(target.config["url"])
        await media.guarded(url, self._allow_private, "webhook_url_forbidden")
        now = datetime.now(UTC)
        body = render_body(event, now, data)
        secret = str(target.credentials["secret"])
        headers = webhook_signing.headers(message_id, body, now, [secret])
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise classify_transport(error) from error
        if not response.is_success:
            raise classify_response(
                response.status_code, response.headers.get("retry-after"), datetime.now(UTC)
            )
        return response

    async def lookup(self, target: Target, idempotency_key: str, content: Content) -> str | None:
        """Nothing to ask: the receiver de-duplicates by ``webhook-id`` (the job id)."""
        return None


def _their_id(response: httpx.Response) -> str | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    found = answer.get("id") if isinstance(answer, dict) else None
    return str(found)[:200] if isinstance(found, str | int) and str(found) else None
