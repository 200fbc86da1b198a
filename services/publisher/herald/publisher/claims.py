"""Taking a publish job: claimability, tenant fairness, rate-limit admission, then the claim.

All in one transaction: for a first attempt, two statements (the job, its channel, its asset
and its channel's rate-limit bucket locked and read; the claim, its attempt row, its live
update and the bucket's move written). A job that must wait (its tenant at its cap, no rate
slot yet) is not claimed and uses no attempt; a rate-limit wait reserves its slot, committed
with nothing else. A job whose channel's credentials were refused for good parks in
``waiting_auth`` without a claim: no attempt, no call to the platform with credentials it
refused.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.credentials import Sealed
from herald.common.db.models import Asset, Channel, OutboxMessage
from herald.common.domain.job_states import PARKABLE, JobStatus
from herald.common.errors import RetryLater
from herald.common.events import JobChanged
from herald.common.ids import new_id
from herald.common.live_updates import change_envelope, stage_change_now, stage_job_change
from herald.common.outbox import message_of
from herald.common.platforms import channel_key, effective_rate_limit
from herald.common.runtime import Runtime
from herald.publisher import metrics
from herald.publisher.adapters import job_store, rate_limit_store
from herald.publisher.adapters.job_store import Claim, Claimable
from herald.publisher.adapters.platforms.base import PlatformAdapter
from herald.publisher.domain.claims import Refusal
from herald.publisher.domain.fairness import TenantBusy, busy_delay, has_room
from herald.publisher.settings import PublisherSettings

log = structlog.get_logger(__name__)

Taken = tuple[Claim, Asset, Channel, Sealed | None, OutboxMessage]
"""The claim, what it publishes, and its live update (``processing``) to relay after the commit."""


@dataclass
class Claims:
    runtime: Runtime
    settings: PublisherSettings
    adapters: dict[str, PlatformAdapter]
    rng: random.Random = field(default_factory=random.Random)

    async def take(self, job_id: uuid.UUID, priority: str, delivered: int) -> Taken | None:
        """The claimed job and what it publishes, None when there is nothing to do, or
        ``RetryLater`` when the request must come back."""
        parked: list[OutboxMessage] = []
        taken = await self._take(job_id, priority, delivered, parked)
        await self.runtime.relay.send(parked)  # committed: a parked job's live update
        return taken

    async def _take(
        self, job_id: uuid.UUID, priority: str, delivered: int, parked: list[OutboxMessage]
    ) -> Taken | None:
        now = datetime.now(UTC)
        try:
            async with self.runtime.db.transaction() as session:
                ready = await job_store.lock_claimable(session, job_id, now)
                if isinstance(ready, Refusal):  # finished or leased: settled before fairness
                    self._refused(job_id, ready)
                    return None
                ready = await self._bucket_first(session, ready)
                if await self._park_if_refused(session, ready, now, parked):
                    return None
                if self.settings.tenant_concurrency:
                    ready = await self._tenant_room(session, ready, priority, now)
                wait_s, moved = await self._admit(session, ready)
                if wait_s is None:
                    return await self._claim(session, ready, now, moved)
        except TenantBusy:
            metrics.CLAIMS_REFUSED.labels("tenant_busy").inc()
            raise RetryLater(busy_delay(priority, self.rng, delivered), "tenant_busy") from None
        metrics.RATE_LIMIT_WAITS.labels(ready.platform).inc()
        raise RetryLater(wait_s, "rate_limited")

    async def _claim(
        self,
        session: AsyncSession,
        ready: Claimable,
        now: datetime,
        moved: dict[str, object] | None,
    ) -> Taken | None:
        """Claim the job; ``moved`` is the admission's move of the channel's bucket, written
        with the claim. A first attempt is one statement; a later one reconciles the attempts
        before it first (``job_store.claim``)."""
        worker, sealed = self.runtime.instance_id, job_store.sealed_credentials(ready.channel)
        if ready.attempts == 0:
            first = job_store.first_claim(ready, new_id(), self.settings.lease_s, now)
            change = changed(first)
            told = message_of(change, change_envelope(change, now))
            if await job_store.claim_first(session, first, worker, now, told, moved):
                return first, ready.asset, ready.channel, sealed, told
            moved = None  # written: the claim below says why the job was not as it was read
        await rate_limit_store.move(session, moved)
        claimed = await job_store.claim(session, ready.job_id, worker, self.settings.lease_s, now)
        if isinstance(claimed, Refusal):  # cannot happen: the row is locked and was claimable
            self._refused(ready.job_id, claimed)
            return None
        told = await stage_change_now(session, changed(claimed), now)
        return claimed, ready.asset, ready.channel, sealed, told

    async def _park_if_refused(
        self, session: AsyncSession, ready: Claimable, now: datetime, staged: list[OutboxMessage]
    ) -> bool:
        """Park the job if its channel awaits re-authorization (its live update staged)."""
        if ready.status not in PARKABLE:  # a takeover reconciles first, whatever the channel
            return False
        channel = ready.channel
        if channel.auth_state != "reauth_required":
            return False  # the common case, decided without a lock
        if not await job_store.awaits_reauthorization(session, ready.channel_id):
            await session.refresh(channel)  # reconnected meanwhile: publish with the new ones
            return False
        job = await job_store.park_job(session, ready.job_id, "reauth_required", now)
        if job is None:
            return False
        staged.append(stage_job_change(session, job, now))
        metrics.CLAIMS_REFUSED.labels("reauth_required").inc()
        log.info("publish.parked_for_auth", job_id=str(ready.job_id))
        return True

    async def _bucket_first(self, session: AsyncSession, ready: Claimable) -> Claimable:
        """The channel's bucket, locked, before any other lock: the lock's statement took it
        when it exists; a channel's first claim makes it now. Locks are always taken in one
        order (job, bucket, tenant): claims racing on a new channel cannot deadlock."""
        if ready.bucket is not None or ready.platform not in self.adapters:
            return ready
        key = channel_key(ready.channel_id)
        return replace(ready, bucket=await rate_limit_store.lock(session, key))

    async def _tenant_room(
        self, session: AsyncSession, ready: Claimable, priority: str, now: datetime
    ) -> Claimable:
        """Raise ``TenantBusy`` when the tenant is at its cap; else the job, its admission
        clock read once the tenant's lock was granted (a wait for it is not counted as
        earlier time)."""
        running, at = await job_store.tenant_running(session, ready.tenant_id, now)
        if not has_room(running, self.settings.tenant_concurrency, priority):
            raise TenantBusy(ready.job_id)
        if ready.bucket is None:
            return ready
        return replace(ready, bucket=replace(ready.bucket, now=at))

    async def _admit(
        self, session: AsyncSession, ready: Claimable
    ) -> tuple[float | None, dict[str, object] | None]:
        """No wait when the channel's limit admits the call now, with the bucket's move for
        the claim to write; else the wait (slot reserved, the bucket's move written)."""
        adapter, locked = self.adapters.get(ready.platform), ready.bucket
        if adapter is None or locked is None:  # no bucket without an adapter (_bucket_first)
            return None, None  # the attempt fails as unknown_platform; no limit to honour
        limit = effective_rate_limit(adapter.info, ready.channel.config)
        key = channel_key(ready.channel_id)
        decision, moved = rate_limit_store.decide(key, locked, limit, ready.rate_slot_at)
        if decision.allowed:
            return None, moved
        await rate_limit_store.move(session, moved)
        if decision.slot is not None and decision.slot != ready.rate_slot_at:
            await job_store.reserve_rate_slot(session, ready.job_id, decision.slot)
        return decision.wait_s(locked.now), None

    def _refused(self, job_id: uuid.UUID, refusal: Refusal) -> None:
        metrics.CLAIMS_REFUSED.labels(refusal.reason).inc()
        log.info("publish.claim_refused", job_id=str(job_id), reason=refusal.reason)
        if refusal.delay_s is not None:
            raise RetryLater(refusal.delay_s, refusal.reason)


def changed(
    claimed: Claim,
    status: JobStatus = JobStatus.PROCESSING,
    *,
    error_code: str | None = None,
    external_id: str | None = None,
    next_attempt_at: datetime | None = None,
) -> JobChanged:
    """The live update of a claimed job that took ``status``."""
    return JobChanged(
        tenant_id=claimed.tenant_id,
        job_id=claimed.job_id,
        asset_id=claimed.asset_id,
        channel_id=claimed.channel_id,
        platform=claimed.platform,
        status=status.value,
        attempts=claimed.attempt,
        error_code=error_code,
        external_id=external_id,
        next_attempt_at=next_attempt_at,
    )
