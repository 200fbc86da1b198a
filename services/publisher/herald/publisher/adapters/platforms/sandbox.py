"""Adapter for Herald's own sandbox platform (``herald.sandbox``)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from herald.common.platforms import SANDBOX
from herald.publisher.adapters.platforms.base import Content, Target
from herald.publisher.adapters.platforms.http_errors import classify_response, classify_transport
from herald.publisher.domain.retry_policy import RetryPolicy


class SandboxAdapter:
    """Posts to ``POST {base}/posts`` with the job id as Idempotency-Key; lookup is exact."""

    info = SANDBOX
    retry_policy = RetryPolicy()

    def __init__(self, base_url: str, client: httpx.AsyncClient):
        self._base = base_url.rstrip("/")
        self._client = client

    async def publish(self, target: Target, content: Content, idempotency_key: str) -> str:
        body = {
            "account": target.config["account"],
            "body": f"{content.title}\n\n{content.body}".strip(),
            "media": list(content.media_urls),
        }
        headers = {
            "Authorization": f"Bearer {target.credentials.get('token', '')}",
            "Idempotency-Key": idempotency_key,
        }
        try:
            response = await self._client.post(f"{self._base}/posts", json=body, headers=headers)
        except httpx.HTTPError as error:
            raise classify_transport(error) from error
        if response.is_success:
            return str(response.json()["id"])
        raise classify_response(
            response.status_code, response.headers.get("retry-after"), datetime.now(UTC)
        )

    async def verify(self, target: Target) -> str:
        """The account, once the sandbox accepts the token (``GET /me``)."""
        headers = {"Authorization": f"Bearer {target.credentials.get('token', '')}"}
        try:
            response = await self._client.get(f"{self._base}/me", headers=headers)
        except httpx.HTTPError as error:
            raise classify_transport(error) from error
        if not response.is_success:
            raise classify_response(
                response.status_code, response.headers.get("retry-after"), datetime.now(UTC)
            )
        return str(target.config["account"])

    async def lookup(self, target: Target, idempotency_key: str, content: Content) -> str | None:
        params = {"account": target.config["account"], "idempotency_key": idempotency_key}
        try:
            response = await self._client.get(f"{self._base}/posts", params=params)
        except httpx.HTTPError as error:
            raise classify_transport(error) from error
        if not response.is_success:
            raise classify_response(
                response.status_code, response.headers.get("retry-after"), datetime.now(UTC)
            )
        posts = response.json()
        return str(posts[0]["id"]) if posts else None
