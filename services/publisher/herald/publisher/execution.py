"""Executing one publish job: claim, reconcile or post, record the outcome, emit the event.

The attempt row is committed before the platform call, so a crash in between leaves evidence;
the next claim sees the unfinished attempt and asks the platform (``lookup``) before posting.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.credentials import CredentialBox, CredentialKeyError, Sealed
from herald.common.db.models import Asset, Channel
from herald.common.domain.job_states import JobStatus
from herald.common.errors import RetryLater
from herald.common.events import Envelope, PublishFailed, PublishSucceeded
from herald.common.faults import fault_point
from herald.common.outbox import stage
from herald.common.platforms import effective_rate_limit
from herald.common.runtime import Runtime
from herald.publisher import metrics
from herald.publisher.adapters import job_store, rate_limit_store
from herald.publisher.adapters.job_store import Claim, Claimable
from herald.publisher.adapters.platforms.base import Content, PlatformAdapter, Target
from herald.publisher.domain.claims import Refusal
from herald.publisher.domain.errors import (
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)
from herald.publisher.domain.fairness import TenantBusy, busy_delay, has_room
from herald.publisher.domain.retry_policy import RetryPolicy, decide
from herald.publisher.leases import Heartbeat, kept_alive
from herald.publisher.settings import PublisherSettings

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)


@dataclass
class Executor:
    runtime: Runtime
    settings: PublisherSettings
    adapters: dict[str, PlatformAdapter]
    credentials: CredentialBox
    rng: random.Random = field(default_factory=random.Random)

    async def execute(
        self,
        job_id: uuid.UUID,
        heartbeat: Heartbeat | None = None,
        priority: str = "normal",
        delivered: int = 1,
    ) -> None:
        """Run the job once; raises ``RetryLater`` when the request must come back later.

        ``delivered`` is how often JetStream has delivered this request (waits grow with it).
        """
        prepared = await self._claim(job_id, priority, delivered)
        if prepared is None:
            return
        claimed, asset, target = prepared
        attributes: dict[str, str | int] = {
            "herald.job_id": str(job_id),
            "herald.platform": claimed.platform,
            "herald.attempt": claimed.attempt,
        }
        with tracer.start_as_current_span("publish.attempt", attributes=attributes):
            started = time.perf_counter()
            try:
                adapter = self._adapter(claimed.platform)
                self._check_budget(claimed, adapter)
                async with kept_alive(
                    self.runtime.db,
                    claimed,
                    self.settings.lease_s,
                    self.settings.consumer_ack_wait_s,
                    heartbeat,
                ):
                    external_id = await self._call(adapter, claimed, target, _content(asset))
                fault_point("publisher.after_platform_call")
            except PublishError as error:
                return await self._failed(claimed, error, time.perf_counter() - started)
            except Exception as error:  # an adapter bug: recorded as a failure, never left open
                log.exception("publish.adapter_crashed", job_id=str(job_id))
                # the post may exist (e.g. an unreadable 2xx): retried, and reconciled first
                crash = TransientPublishError("adapter_error", f"{type(error).__name__}: {error}")
                return await self._failed(claimed, crash, time.perf_counter() - started)
            await self._succeeded(claimed, asset, external_id, time.perf_counter() - started)

    async def _claim(
        self, job_id: uuid.UUID, priority: str, delivered: int
    ) -> tuple[Claim, Asset, Target] | None:
        """In one transaction: tenant room, claimability, rate-limit admission, then the claim.

        A job that must wait (tenant at its cap, no rate slot) is not claimed and uses no
        attempt; a rate-limit wait reserves its slot, committed with nothing else.
        """
        now = datetime.now(UTC)
        try:
            async with self.runtime.db.transaction() as session:
                ready = await job_store.lock_claimable(session, job_id, now)
                if isinstance(ready, Refusal):  # finished or leased: settled before fairness
                    self._refused(job_id, ready)
                    return None
                if self.settings.tenant_concurrency:
                    await self._tenant_room(session, job_id, priority, now)
                wait_s = await self._admit(session, ready)
                if wait_s is None:
                    claimed = await job_store.claim(
                        session, job_id, self.runtime.instance_id, self.settings.lease_s, now
                    )
                    if isinstance(claimed, Refusal):  # cannot happen: the row is locked
                        self._refused(job_id, claimed)
                        return None
                    asset, channel, sealed = await job_store.load_target(session, claimed)
        except TenantBusy:
            metrics.CLAIMS_REFUSED.labels("tenant_busy").inc()
            delay = busy_delay(priority, self.rng, delivered)
            raise RetryLater(delay, "tenant_busy") from None
        if wait_s is not None:
            metrics.RATE_LIMIT_WAITS.labels(ready.platform).inc()
            raise RetryLater(wait_s, "rate_limited")
        if isinstance(claimed, Refusal):  # narrowed inside the transaction already
            return None
        try:
            return claimed, asset, Target(channel.config, self._open(sealed))
        except PublishError as error:
            await self._failed(claimed, error, 0.0)
            return None

    async def _tenant_room(
        self, session: AsyncSession, job_id: uuid.UUID, priority: str, now: datetime
    ) -> None:
        running = await job_store.tenant_running(session, job_id, now)
        cap = self.settings.tenant_concurrency
        if running is not None and not has_room(running, cap, priority):
            raise TenantBusy(job_id)

    async def _admit(self, session: AsyncSession, ready: Claimable) -> float | None:
        """None when the channel's limit admits the call now; else the wait (slot reserved)."""
        adapter = self.adapters.get(ready.platform)
        if adapter is None:
            return None  # the attempt fails as unknown_platform; no limit to honour
        channel = await session.get_one(Channel, ready.channel_id)
        limit = effective_rate_limit(adapter.info, channel.config)
        decision, at = await rate_limit_store.admit_request(
            session, f"channel:{ready.channel_id}", limit, ready.rate_slot_at
        )
        if decision.allowed:
            return None
        if decision.slot is not None and decision.slot != ready.rate_slot_at:
            await job_store.reserve_rate_slot(session, ready.job_id, decision.slot)
        return decision.wait_s(at)

    async def _call(
        self, adapter: PlatformAdapter, claimed: Claim, target: Target, content: Content
    ) -> str:
        key = str(claimed.job_id)
        with metrics.PLATFORM_CALL_SECONDS.labels(claimed.platform).time():
            if (claimed.reconcile or claimed.cancel_requested) and adapter.info.lookup:
                found = await adapter.lookup(target, key)
                if found is not None:
                    log.info("publish.reconciled", job_id=key, external_id=found)
                    return found
            if claimed.cancel_requested:  # its worker died mid-call: never post after a cancel
                raise PermanentPublishError("cancelled", "cancelled while a call was in flight")
            return await adapter.publish(target, content, key)

    def _check_budget(self, claimed: Claim, adapter: PlatformAdapter) -> None:
        """A job whose workers keep dying (it crashes or hangs them) is failed, not retried
        forever: takeovers count against the attempt budget like any failed attempt."""
        if (
            claimed.previous_unfinished
            and claimed.attempt_in_run > adapter.retry_policy.max_attempts
        ):
            raise PermanentPublishError("worker_lost", "workers died on every attempt")

    async def _succeeded(
        self, claimed: Claim, asset: Asset, external_id: str, duration_s: float
    ) -> None:
        now = datetime.now(UTC)
        event = PublishSucceeded(
            job_id=claimed.job_id,
            asset_id=claimed.asset_id,
            channel_id=claimed.channel_id,
            platform=claimed.platform,
            external_id=external_id,
            attempts=claimed.attempt,
        )
        async with self.runtime.db.transaction() as session:
            await job_store.close_attempt(
                session, claimed, "succeeded", now, duration_s * 1000, external_id=external_id
            )
            status = await job_store.finish(
                session, claimed, JobStatus.SUCCEEDED, now, external_id=external_id
            )
            rows = [stage(session, event, self._wrap(event, claimed, now))] if status else []
        self._observe(claimed, "succeeded", status)
        if status and asset.approved_at is not None:
            metrics.APPROVE_TO_PUBLISHED.labels(claimed.platform).observe(
                (now - asset.approved_at).total_seconds()
            )
        log.info(
            "publish.succeeded",
            job_id=str(claimed.job_id),
            external_id=external_id,
            attempt=claimed.attempt,
            fenced_out=status is None,
        )
        await self.runtime.relay.send(rows)

    async def _failed(self, claimed: Claim, error: PublishError, duration_s: float) -> None:
        now = datetime.now(UTC)
        policy = self._adapter_policy(claimed.platform)
        decision = decide(error, claimed.attempt_in_run, policy, now, self.rng)
        async with self.runtime.db.transaction() as session:
            await job_store.close_attempt(
                session,
                claimed,
                "failed",
                now,
                duration_s * 1000,
                error_class=error.error_class,
                error_code=error.code,
                error_message=error.message[:2000],
                http_status=error.http_status,
            )
            status = await job_store.finish(
                session,
                claimed,
                decision.status,
                now,
                retry_at=decision.retry_at,
                error_code=error.code,
            )
            event = PublishFailed(
                job_id=claimed.job_id,
                asset_id=claimed.asset_id,
                channel_id=claimed.channel_id,
                platform=claimed.platform,
                error_class=error.error_class,
                error_code=error.code,
                message=error.message,
                http_status=error.http_status,
                attempt=claimed.attempt,
                final=status is JobStatus.FAILED,
            )
            # a cancel requested mid-call ends the job quietly: the user asked for it
            report = status is not None and status is not JobStatus.CANCELLED
            rows = [stage(session, event, self._wrap(event, claimed, now))] if report else []
        self._observe(claimed, "failed", status)
        log.warning(
            "publish.failed",
            job_id=str(claimed.job_id),
            attempt=claimed.attempt,
            error_class=error.error_class,
            error_code=error.code,
            next_status=status.value if status else "fenced_out",
            retry_in_s=round(decision.delay_s, 3),
        )
        await self.runtime.relay.send(rows)
        if status is JobStatus.RETRYING:
            raise RetryLater(decision.delay_s, f"retry {error.code}")

    def _refused(self, job_id: uuid.UUID, refusal: Refusal) -> None:
        metrics.CLAIMS_REFUSED.labels(refusal.reason).inc()
        log.info("publish.claim_refused", job_id=str(job_id), reason=refusal.reason)
        if refusal.delay_s is not None:
            raise RetryLater(refusal.delay_s, refusal.reason)

    def _observe(self, claimed: Claim, outcome: str, status: JobStatus | None) -> None:
        metrics.ATTEMPTS.labels(claimed.platform, outcome).inc()
        if status is None:
            metrics.FENCED_OUT.labels(claimed.platform).inc()
        else:
            metrics.JOBS_FINISHED.labels(claimed.platform, status.value).inc()

    def _adapter(self, platform: str) -> PlatformAdapter:
        adapter = self.adapters.get(platform)
        if adapter is None:
            raise PermanentPublishError("unknown_platform", f"no adapter for {platform!r}")
        return adapter

    def _adapter_policy(self, platform: str) -> RetryPolicy:
        adapter = self.adapters.get(platform)
        return adapter.retry_policy if adapter else RetryPolicy(max_attempts=1)

    def _open(self, sealed: Sealed | None) -> dict[str, object]:
        if sealed is None:
            return {}
        try:
            return self.credentials.open(sealed)
        except CredentialKeyError as error:
            raise PermanentPublishError("credentials_unreadable", str(error)) from None

    def _wrap(
        self, event: PublishSucceeded | PublishFailed, claimed: Claim, now: datetime
    ) -> Envelope:
        return Envelope.wrap(
            event,
            tenant_id=claimed.tenant_id,
            subject_id=claimed.job_id,
            now=now,
            idempotency_key=f"{event.type}:{claimed.job_id}:{claimed.attempt}",
        )


def _content(asset: Asset) -> Content:
    return Content(asset.title, asset.body, tuple(str(m.get("url", "")) for m in asset.media))
