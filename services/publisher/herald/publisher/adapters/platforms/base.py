"""The protocol every platform adapter implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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


@dataclass(frozen=True)
class Inventory:
    """What a signage account has: its screens (each with the playlist it shows) and its
    playlists, as JSON-ready rows."""

    screens: list[dict[str, Any]]
    playlists: list[dict[str, Any]]


@runtime_checkable
class InventoryAdapter(PlatformAdapter, Protocol):
    """A signage platform's adapter: the account's screens and playlists can be listed."""

    async def inventory(self, target: Target, on_page: Callable[[], Awaitable[None]]) -> Inventory:
        """Every screen and playlist; ``on_page`` is awaited after each page read."""
        ...
