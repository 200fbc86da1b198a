"""Refreshing the OAuth tokens of channels whose jobs are not running (issue 6).

Every ``HERALD_TOKEN_UPKEEP_INTERVAL_S`` each publisher takes, in bounded batches, the ``ok``
channels of OAuth platforms whose access token expires soon, or whose scheduled job falls due
within the look-ahead while the token would be expiring at its slot (``domain/token_upkeep``),
and refreshes them through ``Tokens``: under the channel's row lock, so that when a worker or
another publisher refreshes the same channel at the same moment the token endpoint is asked
once and the other takes the stored result. A refusal for good is recorded as a refused
publish is (``refusals``: the channel ``reauth_required``, its waiting jobs parked,
``channel.auth_failed``); an endpoint that is down or slow changes nothing and is asked again
next round.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from opentelemetry import trace

from herald.common.credentials import CredentialBox, CredentialKeyError
from herald.common.db.engine import Database
from herald.common.outbox import OutboxRelay
from herald.common.pacing import sleep_unless_stopped
from herald.common.runtime import Runtime
from herald.publisher import metrics
from herald.publisher.adapters import token_channels
from herald.publisher.adapters.platforms.base import PlatformAdapter, RefreshingAdapter
from herald.publisher.adapters.token_channels import Candidate
from herald.publisher.domain.errors import AuthExpiredError, PublishError
from herald.publisher.domain.token_upkeep import UpkeepPolicy, channel_jitter
from herald.publisher.refusals import RefusedChannel, record_refusal
from herald.publisher.tokens import Access, Tokens

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)


@dataclass
class TokenUpkeep:
    db: Database
    relay: OutboxRelay
    box: CredentialBox
    adapters: dict[str, PlatformAdapter]
    tokens: Tokens
    policy: UpkeepPolicy
    interval_s: float = 60.0
    batch_size: int = 100
    concurrency: int = 4

    async def token_upkeep(self, runtime: Runtime) -> None:
        """The background loop (``serve_worker``): a round every interval until stopped."""
        while not await sleep_unless_stopped(runtime.stop, self.interval_s):
            try:
                await self.round(stop=runtime.stop)
            except Exception as error:  # the database is away: the next round tries again
                log.warning("token.upkeep_failed", error=str(error))

    async def round(
        self, now: datetime | None = None, stop: asyncio.Event | None = None
    ) -> Counter[str]:
        """Look at every candidate once; the outcomes counted (``not_due`` included). Once
        ``stop`` is set no refresh starts (a rotated token must not be cut off mid-store)."""
        stop = stop or asyncio.Event()
        now = now or datetime.now(UTC)
        started = time.perf_counter()
        platforms = [name for name, a in self.adapters.items() if _refreshing(a)]
        outcomes: Counter[str] = Counter()
        limit = asyncio.Semaphore(self.concurrency)
        after: uuid.UUID | None = None
        while platforms and not stop.is_set():
            async with self.db.transaction() as session:
                batch = await token_channels.candidates(
                    session, platforms, self.policy, now, after, self.batch_size
                )
            outcomes.update(
                await asyncio.gather(*(self._bounded(limit, c, now, stop) for c in batch))
            )
            if len(batch) < self.batch_size:
                break
            after = batch[-1].channel_id
        log.info(
            "token.upkeep_round",
            candidates=sum(outcomes.values()),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            **outcomes,
        )
        return outcomes

    async def _bounded(
        self, limit: asyncio.Semaphore, candidate: Candidate, now: datetime, stop: asyncio.Event
    ) -> str:
        async with limit:
            if stop.is_set():
                return "stopped"
            try:
                return await self._upkeep(candidate, now)
            except Exception:  # e.g. the database away while recording a refusal: the
                # others of the batch go on, this channel is a candidate again next round
                log.exception("token.upkeep_crashed", channel_id=str(candidate.channel_id))
                return "error"

    async def _upkeep(self, candidate: Candidate, now: datetime) -> str:
        """Refresh one channel's tokens if due: ``refreshed``, ``taken`` (another worker just
        did), ``not_due``, ``refused`` (the channel marked), ``superseded`` (refused, but the
        channel had moved on: marked by another publisher, or given new credentials),
        ``transient``, ``permanent``, ``unreadable`` or ``error``."""
        adapter = self.adapters[candidate.platform]
        if not isinstance(adapter, RefreshingAdapter):  # only their platforms are candidates
            return "not_due"
        try:
            credentials = self.box.open(candidate.sealed)
        except CredentialKeyError:
            return self._counted(candidate, "unreadable", None)
        jitter = channel_jitter(candidate.channel_id)
        reason = self.policy.reason(credentials, now, jitter, candidate.next_slot)
        if reason is None:
            return "not_due"  # not counted: most candidates of the slot look-ahead are not due
        access = Access(candidate.channel_id, candidate.config, candidate.sealed, credentials)
        attributes = {"herald.platform": candidate.platform, "herald.reason": reason.value}
        with tracer.start_as_current_span("token.upkeep", attributes=attributes):
            try:
                outcome = await self.tokens.refresh_now(access, adapter, reason.value)
            except AuthExpiredError as refused:
                outcome = await self._refused(candidate, access, refused)
            except PublishError as failed:  # down, slow, limiting, or our client misconfigured
                outcome = failed.error_class
            except Exception:  # an adapter bug: this channel waits, the others go on
                log.exception("token.upkeep_crashed", channel_id=str(candidate.channel_id))
                outcome = "error"
        return self._counted(candidate, outcome, reason.value)

    async def _refused(
        self, candidate: Candidate, access: Access, refused: AuthExpiredError
    ) -> str:
        channel = RefusedChannel(candidate.channel_id, candidate.tenant_id, candidate.platform)
        async with self.db.transaction() as session:
            recorded = await record_refusal(
                session, channel, access.sealed, refused, datetime.now(UTC)
            )
        await self.relay.send(recorded.staged)
        log.warning(
            "token.upkeep_refused",
            channel_id=str(candidate.channel_id),
            platform=candidate.platform,
            error_code=refused.code,
            marked=recorded.marked,
            parked_jobs=recorded.parked,
        )
        return "refused" if recorded.marked else "superseded"

    def _counted(self, candidate: Candidate, outcome: str, reason: str | None) -> str:
        metrics.TOKEN_UPKEEP.labels(candidate.platform, outcome).inc()
        if outcome not in ("refreshed", "taken"):
            log.info(
                "token.upkeep_channel",
                channel_id=str(candidate.channel_id),
                platform=candidate.platform,
                reason=reason,
                outcome=outcome,
            )
        return outcome


def _refreshing(adapter: PlatformAdapter) -> bool:
    return adapter.info.oauth and isinstance(adapter, RefreshingAdapter)
