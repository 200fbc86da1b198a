"""The protocol every platform adapter implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from herald.common.platforms import PlatformInfo
from herald.publisher.domain.retry_policy import RetryPolicy


@dataclass(frozen=True)
class Content:
    title: str
    body: str
    media_urls: tuple[str, ...]


@dataclass(frozen=True)
class Target:
    """Where to post: the channel's config and its opened credentials."""

    config: dict[str, Any]
    credentials: dict[str, Any]


class PlatformAdapter(Protocol):
    info: PlatformInfo
    retry_policy: RetryPolicy

    async def publish(self, target: Target, content: Content, idempotency_key: str) -> str:
        """Post ``content``; returns the platform's id for it. Raises ``PublishError``."""
        ...

    async def lookup(self, target: Target, idempotency_key: str) -> str | None:
        """The id of a post made earlier with ``idempotency_key``, or None if there is none."""
        ...
