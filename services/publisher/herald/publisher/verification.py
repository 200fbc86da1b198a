"""Checking a channel's credentials with its platform, on request (``POST
/v1/channels/{id}/verify`` asks over NATS; see ``herald.common.channel_checks``).

A refusal marks the channel ``reauth_required`` (as a refused publish does); a platform that
cannot be reached changes nothing. OAuth tokens are refreshed on the way as for a publish.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from opentelemetry import trace
from sqlalchemy import select

from herald.common.channel_checks import ChannelVerdict, VerifyChannel
from herald.common.credentials import CredentialBox, CredentialKeyError, Sealed
from herald.common.db.engine import Database
from herald.common.db.models import Channel
from herald.publisher import metrics
from herald.publisher.adapters import job_store
from herald.publisher.adapters.platforms.base import PlatformAdapter, VerifyingAdapter
from herald.publisher.domain.errors import AuthExpiredError, PublishError
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

    async def verify(self, question: VerifyChannel) -> ChannelVerdict:
        async with self.db.transaction() as session:
            channel = await session.scalar(
                select(Channel).where(
                    Channel.id == question.channel_id, Channel.tenant_id == question.tenant_id
                )
            )
        if channel is None:
            return ChannelVerdict(outcome="not_found")
        with tracer.start_as_current_span(
            "channel.verify", attributes={"herald.platform": channel.platform}
        ):
            verdict = await self._check(channel)
        metrics.CHANNEL_CHECKS.labels(channel.platform, verdict.outcome).inc()
        log.info(
            "channel.verified",
            channel_id=str(channel.id),
            platform=channel.platform,
            outcome=verdict.outcome,
            error_code=verdict.error_code,
        )
        return verdict

    async def _check(self, channel: Channel) -> ChannelVerdict:
        adapter = self.adapters.get(channel.platform)
        if not isinstance(adapter, VerifyingAdapter):
            return ChannelVerdict(outcome="unsupported", auth_state=channel.auth_state)
        if channel.credentials_ciphertext is None or channel.credentials_key_id is None:
            return ChannelVerdict(
                outcome="refused",
                auth_state=channel.auth_state,
                error_code="channel_disconnected",
                message="the channel has no credentials",
            )
        sealed = Sealed(channel.credentials_key_id, channel.credentials_ciphertext)
        try:
            access = Access(channel.id, channel.config, sealed, self.box.open(sealed))
        except CredentialKeyError as unreadable:
            return ChannelVerdict(
                outcome="unreachable",
                auth_state=channel.auth_state,
                error_code="credentials_unreadable",
                message=str(unreadable),
            )
        try:
            async with asyncio.timeout(self.deadline_s):
                await self.tokens.fresh(access, adapter)
                account = await self.tokens.with_refresh(access, adapter, adapter.verify)
        except TimeoutError:
            return ChannelVerdict(
                outcome="unreachable",
                auth_state=channel.auth_state,
                error_code="timeout",
                message=f"no verdict within {self.deadline_s:g} s",
            )
        except AuthExpiredError as refused:
            async with self.db.transaction() as session:
                marked = await job_store.mark_reauth_required(session, channel.id, access.sealed)
            state = "reauth_required" if marked else channel.auth_state
            return ChannelVerdict(
                outcome="refused",
                auth_state=state,
                error_code=refused.code,
                message=refused.message,
            )
        except PublishError as failed:
            return ChannelVerdict(
                outcome="unreachable",
                auth_state=channel.auth_state,
                error_code=failed.code,
                message=failed.message,
            )
        return ChannelVerdict(outcome="ok", auth_state=channel.auth_state, account=account)
