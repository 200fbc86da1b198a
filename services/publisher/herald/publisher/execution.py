"""Executing one claimed publish job: reconcile or post, record the outcome, emit the event.

The attempt row is committed before the platform call, so a crash in between leaves evidence;
the next claim sees the unfinished attempt and asks the platform (``lookup``) before posting.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from opentelemetry import trace

from herald.common.credentials import CredentialBox, CredentialKeyError, Sealed
from herald.common.db.models import Asset
from herald.common.domain.job_states import JobStatus
from herald.common.errors import RetryLater
from herald.common.events import Envelope, PublishFailed, PublishSucceeded
from herald.common.faults import fault_point
from herald.common.live_updates import change_envelope, stage_change
from herald.common.outbox import message_of, stage
from herald.common.runtime import Runtime
from herald.publisher import metrics
from herald.publisher.adapters import job_store
from herald.publisher.adapters.job_store import Claim
from herald.publisher.adapters.platforms.base import Content, PlatformAdapter
from herald.publisher.claims import Claims, Taken, changed
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)
from herald.publisher.domain.retry_policy import RetryPolicy, decide
from herald.publisher.leases import Heartbeat, LeaseClock, LeaseLost, kept_alive, still_ours
from herald.publisher.refusals import RefusedChannel, record_refusal
from herald.publisher.settings import PublisherSettings
from herald.publisher.tokens import Access, Tokens

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)


@dataclass
class Executor:
    runtime: Runtime
    settings: PublisherSettings
    adapters: dict[str, PlatformAdapter]
    credentials: CredentialBox
    claims: Claims
    tokens: Tokens
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
        taken = await self.claims.take(job_id, priority, delivered)
        if taken is None:
            return
        # the live update (processing) is relayed during the call; the outcome's rows wait for
        # it, so the stream has them in order and the call does not wait for a relay
        processing = asyncio.create_task(self.runtime.relay.send([taken[4]]))
        try:
            await self._attempt(taken, heartbeat, processing)
        finally:
            await processing

    async def _attempt(
        self, taken: Taken, heartbeat: Heartbeat | None, processing: asyncio.Task[None]
    ) -> None:
        claimed, asset, channel, sealed, _ = taken
        job_id = claimed.job_id
        try:
            access = Access(claimed.channel_id, channel.config, sealed, self._open(sealed))
        except PublishError as error:
            return await self._failed(claimed, error, 0.0, processing)
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
                clock = LeaseClock(self.settings.lease_s, claimed.lease_expires_at)
                async with kept_alive(
                    self.runtime.db, claimed, clock, self.settings.consumer_ack_wait_s, heartbeat
                ):
                    external_id = await self._call(adapter, claimed, access, _content(asset), clock)
                fault_point("publisher.after_platform_call")
            except LeaseLost:
                log.warning("publish.lease_lost_before_call", job_id=str(job_id))
                metrics.FENCED_OUT.labels(claimed.platform).inc()
                return  # another worker holds the job: it reconciles our open attempt
            except PublishError as error:
                spent = time.perf_counter() - started
                return await self._failed(claimed, error, spent, processing, refused=access.sealed)
            except Exception as error:  # an adapter bug: recorded as a failure, never left open
                log.exception("publish.adapter_crashed", job_id=str(job_id))
                # the post may exist (e.g. an unreadable 2xx): retried, and reconciled first
                crash = TransientPublishError("adapter_error", f"{type(error).__name__}: {error}")
                return await self._failed(claimed, crash, time.perf_counter() - started, processing)
            spent = time.perf_counter() - started
            await self._succeeded(claimed, asset, external_id, spent, processing)

    async def _call(
        self,
        adapter: PlatformAdapter,
        claimed: Claim,
        access: Access,
        content: Content,
        clock: LeaseClock,
    ) -> str:
        key = str(claimed.job_id)
        with metrics.PLATFORM_CALL_SECONDS.labels(claimed.platform).time():
            await self.tokens.fresh(access, adapter)
            if (claimed.reconcile or claimed.cancel_requested) and adapter.info.lookup:
                found = await adapter.lookup(access.target, key, content)
                if found is not None:
                    log.info("publish.reconciled", job_id=key, external_id=found)
                    return found
            if claimed.cancel_requested:  # its worker died mid-call: never post after a cancel
                raise PermanentPublishError("cancelled", "cancelled while a call was in flight")
            if not await still_ours(self.runtime.db, claimed, clock):
                raise LeaseLost(key)
            return await self.tokens.publish(access, adapter, content, key)

    def _check_budget(self, claimed: Claim, adapter: PlatformAdapter) -> None:
        """A job whose workers keep dying (it crashes or hangs them) is failed, not retried
        forever: takeovers count against the attempt budget like any failed attempt."""
        if (
            claimed.previous_unfinished
            and claimed.attempt_in_run > adapter.retry_policy.max_attempts
        ):
            raise PermanentPublishError("worker_lost", "workers died on every attempt")

    async def _succeeded(
        self,
        claimed: Claim,
        asset: Asset,
        external_id: str,
        duration_s: float,
        processing: asyncio.Task[None],
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
        change = changed(claimed, JobStatus.SUCCEEDED, external_id=external_id)
        outcome = (
            message_of(change, change_envelope(change, now)),
            message_of(event, self._wrap(event, claimed, now)),
        )
        async with self.runtime.db.autocommit() as connection:
            ours = await job_store.record_success(
                connection, claimed, now, duration_s * 1000, external_id, outcome
            )
        status = JobStatus.SUCCEEDED if ours else None  # None: fenced out, not ours to report
        rows = list(outcome) if ours else []
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
        await processing  # processing goes out before the outcome
        await self.runtime.relay.send(rows)

    async def _failed(
        self,
        claimed: Claim,
        error: PublishError,
        duration_s: float,
        processing: asyncio.Task[None],
        *,
        refused: Sealed | None = None,
    ) -> None:
        """Record a failed attempt and what follows; ``refused``: the credentials the platform
        was shown (an auth failure marks them ``reauth_required``)."""
        now = datetime.now(UTC)
        policy = self._adapter_policy(claimed.platform)
        async with self.runtime.db.transaction() as session:
            if isinstance(error, AuthExpiredError) and await job_store.credentials_replaced(
                session, claimed.channel_id, refused
            ):  # new ones came during the call: they get a try, the job is not parked
                error = TransientPublishError(
                    "credentials_replaced",
                    f"{error.message}; the channel has new credentials",
                    http_status=error.http_status,
                    retry_after_s=0.0,
                )
            decision = decide(error, claimed.attempt_in_run, policy, now, self.rng)
            await job_store.close_failed_attempt(
                session,
                claimed,
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
            if status is JobStatus.WAITING_AUTH:  # the channel's other jobs park with it
                channel = RefusedChannel(claimed.channel_id, claimed.tenant_id, claimed.platform)
                recorded = await record_refusal(session, channel, refused, error, now, job=claimed)
                rows += recorded.staged
            if status is not None:  # fenced out: the job is another worker's to report
                retry_at = decision.retry_at if status is JobStatus.RETRYING else None
                change = changed(claimed, status, error_code=error.code, next_attempt_at=retry_at)
                rows.insert(0, stage_change(session, change, now))
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
        await processing  # processing goes out before the outcome
        await self.runtime.relay.send(rows)
        if status is JobStatus.RETRYING:
            raise RetryLater(decision.delay_s, f"retry {error.code}")

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
        if sealed is None:  # disconnected: never call a platform without credentials
            raise AuthExpiredError("channel_disconnected", "the channel has no credentials")
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
