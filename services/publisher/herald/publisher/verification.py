"""Checking a channel's credentials with its platform, on request (``POST
/v1/channels/{id}/verify`` asks over NATS; see ``herald.common.channel_checks``).

A refusal is recorded as a refused publish is (``refusals``: the channel ``reauth_required``,
its waiting jobs parked, ``channel.auth_failed``); a platform that cannot be reached changes
nothing. OAuth tokens are refreshed on the way as for a publish.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from opentelemetry import trace
from sqlalchemy import select

from herald.common.channel_checks import ChannelVerdict, VerifyChannel
from herald.common.credentials import CredentialBox, CredentialKeyError, Sealed
from herald.common.db.engine import Database
from herald.common.db.models import Channel
from herald.common.outbox import OutboxRelay
from herald.publisher import metrics
from herald.publisher.adapters.platforms.base import (
    PlatformAdapter,
    RefreshingAdapter,
    VerifyingAdapter,
)
from herald.publisher.domain.errors import AuthExpiredError, PublishError
from herald.publisher.refusals import RefusedChannel, record_refusal
from herald.publisher.tokens import Access, Tokens

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)


@dataclass
class Verifier:
    """``deadline_s`` bounds a whole check (name resolution, a refresh, the platform's
    answer), so that a verdict reaches the API before it stops waiting."""

    db: Database
    box: CredentialBox
    adapters: dict[str, PlatformAdapter]
    tokens: Tokens
    deadline_s: float = 20.0
    relay: OutboxRelay | None = None  # sends what a refusal staged right after its commit

    async def verify(self, question: VerifyChannel) -> ChannelVerdict:
        """Does the platform accept the channel's credentials (refreshed on the way)?"""
        return await self._answer(question, "verify", self._verify)

    async def refresh(self, question: VerifyChannel) -> ChannelVerdict:
        """New OAuth tokens now, whatever their expiry (``POST /v1/channels/{id}/refresh``)."""
        return await self._answer(question, "refresh", self._refresh)

    async def _verify(self, access: Access, adapter: PlatformAdapter) -> ChannelVerdict:
        if not isinstance(adapter, VerifyingAdapter):
            return ChannelVerdict(outcome="unsupported")
        await self.tokens.fresh(access, adapter)
        account = await self.tokens.with_refresh(access, adapter, adapter.verify)
        return ChannelVerdict(outcome="ok", account=account)

    async def _refresh(self, access: Access, adapter: PlatformAdapter) -> ChannelVerdict:
        if not isinstance(adapter, RefreshingAdapter):
            return ChannelVerdict(
                outcome="unsupported", message="the platform has no tokens to refresh"
            )
        await self.tokens.refresh_now(access, adapter)
        expires = access.credentials.get("expires_at")
        return ChannelVerdict(outcome="ok", token_expires_at=str(expires) if expires else None)

    async def _answer(
        self,
        question: VerifyChannel,
        action: str,
        act: Callable[[Access, PlatformAdapter], Awaitable[ChannelVerdict]],
    ) -> ChannelVerdict:
        async with self.db.transaction() as session:
            channel = await session.scalar(
                select(Channel).where(
                    Channel.id == question.channel_id, Channel.tenant_id == question.tenant_id
                )
            )
        if channel is None:
            return ChannelVerdict(outcome="not_found")
        with tracer.start_as_current_span(
            f"channel.{action}", attributes={"herald.platform": channel.platform}
        ):
            verdict = await self._check(channel, act)
        verdict.auth_state = verdict.auth_state or channel.auth_state
        metrics.CHANNEL_CHECKS.labels(channel.platform, verdict.outcome).inc()
        log.info(
            f"channel.{action}",
            channel_id=str(channel.id),
            platform=channel.platform,
            outcome=verdict.outcome,
            error_code=verdict.error_code,
        )
        return verdict

    async def _check(
        self, channel: Channel, act: Callable[[Access, PlatformAdapter], Awaitable[ChannelVerdict]]
    ) -> ChannelVerdict:
        adapter = self.adapters.get(channel.platform)
        if adapter is None:
            return ChannelVerdict(outcome="unsupported")
        if channel.credentials_ciphertext is None or channel.credentials_key_id is None:
            return ChannelVerdict(
                outcome="refused",
                error_code="channel_disconnected",
                message="the channel has no credentials",
            )
        sealed = Sealed(channel.credentials_key_id, channel.credentials_ciphertext)
        checked = hashlib.sha256(sealed.ciphertext).hexdigest()
        try:
            access = Access(channel.id, channel.config, sealed, self.box.open(sealed))
        except CredentialKeyError as unreadable:
            return ChannelVerdict(
                outcome="unreachable", error_code="credentials_unreadable", message=str(unreadable)
            )
        try:
            async with asyncio.timeout(self.deadline_s):
                verdict = await act(access, adapter)
        except TimeoutError:
            return ChannelVerdict(
                outcome="unreachable",
                error_code="timeout",
                message=f"no verdict within {self.deadline_s:g} s",
            )
        except AuthExpiredError as refused:
            marked = await self._record_refusal(channel, access, refused)
            return ChannelVerdict(
                outcome="refused",
                auth_state="reauth_required" if marked else None,
                error_code=refused.code,
                message=refused.message,
                checked=checked,
            )
        except PublishError as failed:
            return ChannelVerdict(
                outcome="unreachable", error_code=failed.code, message=failed.message
            )
        except Exception as error:  # an adapter bug: answered, not left to time out at the API
            log.exception("channel.check_crashed", channel_id=str(channel.id))
            return ChannelVerdict(
                outcome="unreachable", error_code="adapter_error", message=type(error).__name__
            )
        if verdict.outcome == "ok" and access.sealed is not None:  # refreshed: the new ones
            verdict.checked = hashlib.sha256(access.sealed.ciphertext).hexdigest()
        return verdict

    async def _record_refusal(
        self, channel: Channel, access: Access, refused: AuthExpiredError
    ) -> bool:
        """Whether this refusal marked the channel ``reauth_required``."""
        refused_channel = RefusedChannel(channel.id, channel.tenant_id, channel.platform)
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            recorded = await record_refusal(session, refused_channel, access.sealed, refused, now)
        if self.relay is not None:
            await self.relay.send(recorded.staged)
        return recorded.marked
