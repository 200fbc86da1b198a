"""The protocol every platform adapter implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from herald.common.domain.token_grants import TokenGrant
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

    async def lookup(self, target: Target, idempotency_key: str, content: Content) -> str | None:
        """The id of a post an earlier attempt made with ``idempotency_key`` (or, where the
        platform keeps no key, of ``content``), or None if there is none."""
        ...


@runtime_checkable
class VerifyingAdapter(PlatformAdapter, Protocol):
    """An adapter that can check credentials without posting."""

    async def verify(self, target: Target) -> str:
        """The platform's name for the account the credentials act for; ``AuthExpiredError``
        if it refuses them."""
        ...


@runtime_checkable
class RefreshingAdapter(PlatformAdapter, Protocol):
    """An OAuth platform's adapter: its access tokens expire and are refreshed."""

    async def refresh(self, credentials: dict[str, Any]) -> TokenGrant:
        """New tokens from the platform's token endpoint; ``AuthExpiredError`` if the grant is
        gone (the tenant must connect again)."""
        ...
