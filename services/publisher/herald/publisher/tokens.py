"""Keeping a channel's OAuth tokens fresh while its jobs publish.

Before an OAuth platform is called, an access token close to expiry is refreshed; a token the
platform refuses (401) is refreshed once and the call made again (a refused call posted
nothing). A refresh runs under the channel's row lock, so one worker at a time asks the token
endpoint: platforms that rotate refresh tokens (X) invalidate the old one with the first
refresh, and a second worker must take the stored result, not refresh again. The new tokens are
sealed and stored before they are used, with their expiry in clear (``token_expires_at``) for
the token upkeep (``token_upkeep.py``), which refreshes idle channels the same way.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from opentelemetry import trace
from sqlalchemy import select, update

from herald.common.credentials import CredentialBox, Sealed
from herald.common.db.engine import Database
from herald.common.db.models import Channel
from herald.common.domain.token_grants import refreshable_expiry
from herald.publisher import metrics
from herald.publisher.adapters.platforms.base import (
    Content,
    PlatformAdapter,
    RefreshingAdapter,
    Target,
)
from herald.publisher.domain.errors import AuthExpiredError, PublishError
from herald.publisher.domain.token_refresh import (
    refresh_due,
    refresh_on_refusal,
    refreshed,
)

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)
T = TypeVar("T")


@dataclass
class Access:
    """The credentials one attempt uses; ``sealed`` is their stored form (what a refusal
    marks ``reauth_required``)."""

    channel_id: uuid.UUID
    config: dict[str, Any]
    sealed: Sealed | None
    credentials: dict[str, Any]
    refreshed: bool = False

    @property
    def target(self) -> Target:
        return Target(self.config, self.credentials)


@dataclass
class Tokens:
    db: Database
    box: CredentialBox
    rng: random.Random = field(default_factory=random.Random)

    async def fresh(self, access: Access, adapter: PlatformAdapter) -> None:
        """Refresh ahead of expiry (with jitter), where the platform refreshes at all."""
        # every publish passes here: a plain flag first, the Protocol check only for OAuth
        if (
            adapter.info.oauth
            and isinstance(adapter, RefreshingAdapter)
            and refresh_due(access.credentials, datetime.now(UTC), self.rng.random())
        ):
            await self._refresh(access, adapter, "expiring")

    async def refresh_now(
        self, access: Access, adapter: RefreshingAdapter, reason: str = "requested"
    ) -> str:
        """Refresh whatever the expiry (an admin asked, or the token upkeep found it due):
        unless another worker just did. Returns ``refreshed`` or ``taken`` (theirs)."""
        return await self._refresh(access, adapter, reason)

    async def publish(
        self, access: Access, adapter: PlatformAdapter, content: Content, key: str
    ) -> str:
        """``adapter.publish``, refreshing once and trying again if the token is refused."""

        async def publish(target: Target) -> str:
            return await adapter.publish(target, content, key)

        return await self.with_refresh(access, adapter, publish)

    async def with_refresh(
        self, access: Access, adapter: PlatformAdapter, call: Callable[[Target], Awaitable[T]]
    ) -> T:
        """``call`` with the access's target; if the platform refuses the token, refresh once
        and call again (a refused call did nothing)."""
        try:
            return await call(access.target)
        except AuthExpiredError:
            if isinstance(adapter, RefreshingAdapter) and refresh_on_refusal(
                access.credentials, access.refreshed
            ):
                await self._refresh(access, adapter, "refused")
            else:
                raise
        return await call(access.target)

    async def _refresh(self, access: Access, adapter: RefreshingAdapter, reason: str) -> str:
        platform = adapter.info.name
        attributes = {"herald.platform": platform, "herald.reason": reason}
        with tracer.start_as_current_span("token.refresh", attributes=attributes):
            try:
                # shielded: once the platform has rotated the refresh token, the new one must
                # be stored even if the caller stops waiting (a verify's deadline)
                outcome = await asyncio.shield(self._refresh_locked(access, adapter))
            except PublishError as error:
                metrics.TOKEN_REFRESHES.labels(platform, error.error_class).inc()
                log.warning(
                    "token.refresh_failed",
                    channel_id=str(access.channel_id),
                    platform=platform,
                    error_code=error.code,
                )
                raise
        metrics.TOKEN_REFRESHES.labels(platform, outcome).inc()
        log.info(
            "token.refreshed",
            channel_id=str(access.channel_id),
            platform=platform,
            reason=reason,
            outcome=outcome,
        )
        return outcome

    async def _refresh_locked(self, access: Access, adapter: RefreshingAdapter) -> str:
        """Under the channel's row lock: take credentials stored since ours were read, or
        refresh ours and store the result. Returns ``taken`` or ``refreshed``."""
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    select(Channel.credentials_ciphertext, Channel.credentials_key_id)
                    .where(Channel.id == access.channel_id)
                    .with_for_update()
                )
            ).one_or_none()
            if row is None or row[0] is None or row[1] is None:
                raise AuthExpiredError("channel_disconnected", "the channel has no credentials")
            stored = Sealed(row[1], row[0])
            if access.sealed is None or stored.ciphertext != access.sealed.ciphertext:
                outcome = "taken"  # another worker refreshed, or an admin gave new ones
                credentials = self.box.open(stored)
            else:
                outcome = "refreshed"
                grant = await adapter.refresh(access.credentials)
                credentials = refreshed(access.credentials, grant, datetime.now(UTC))
                stored = self.box.seal(credentials)
                await session.execute(
                    update(Channel)
                    .where(Channel.id == access.channel_id)
                    .values(
                        credentials_ciphertext=stored.ciphertext,
                        credentials_key_id=stored.key_id,
                        token_expires_at=refreshable_expiry(credentials),
                    )
                )
        access.credentials, access.sealed, access.refreshed = credentials, stored, True
        return outcome
