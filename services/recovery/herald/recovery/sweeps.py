"""Sweeps that heal what crashes and lost messages left behind; each bounded and replica-safe."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common import locks
from herald.common.db.engine import Database
from herald.common.db.models import OutboxMessage
from herald.common.domain.job_states import JobStatus
from herald.common.events import (
    Envelope,
    JobChanged,
    JobRecovered,
    PublishFailed,
    PublishRequested,
)
from herald.common.live_updates import stage_change
from herald.common.outbox import OutboxRelay, stage
from herald.recovery.adapters import job_sweeps, pruning
from herald.recovery.adapters.job_sweeps import Stranded
from herald.recovery.domain.retention import RetentionPolicy
from herald.recovery.domain.sweep_policy import SweepPolicy

log = structlog.get_logger(__name__)

RECOVERED = Counter("herald_recovered_total", "Things the recovery service healed", ["reason"])
PRUNED = Counter("herald_pruned_rows_total", "Finished bookkeeping rows deleted", ["table"])


async def drain_outbox(relay: OutboxRelay, *, grace: bool) -> int:
    """Publish outbox rows that were committed but never confirmed by JetStream."""
    published = await relay.drain(grace=grace)
    if published:
        RECOVERED.labels("outbox_unsent").inc(published)
        log.info("recovery.outbox_drained", rows=published)
    return published


async def clear_stale_locks(db: Database, grace_s: float, batch_size: int) -> list[str]:
    """Delete distributed locks whose holder let them expire (died or stalled) a while ago."""
    if not await locks.any_expired(db, grace_s):
        return []
    async with db.transaction() as session:
        cleared = await locks.clear_expired(session, grace_s, batch_size)
    if cleared:
        RECOVERED.labels("lock_expired").inc(len(cleared))
        log.info("recovery.locks_cleared", locks=cleared)
    return cleared


async def prune_finished(db: Database, policy: RetentionPolicy) -> dict[str, int]:
    """Delete one batch per table of bookkeeping whose work is long over."""
    async with db.transaction() as session:
        pruned = await pruning.prune(session, policy.cutoffs(datetime.now(UTC)), policy.batch_size)
    for table, rows in pruned.items():
        if rows:
            PRUNED.labels(table).inc(rows)
    if any(pruned.values()):
        log.info("recovery.pruned", **pruned)
    return pruned


async def sweep_jobs(db: Database, relay: OutboxRelay, policy: SweepPolicy) -> list[Stranded]:
    """Dispatch due scheduled jobs and re-request stranded ones, one batch of each."""
    now = datetime.now(UTC)
    cutoffs = policy.cutoffs(now)
    if not await job_sweeps.any_to_sweep(db, cutoffs):
        return []
    async with db.transaction() as session:
        found = await job_sweeps.dispatch_due(session, cutoffs, now, policy.batch_size)
        found += await job_sweeps.request_stranded(session, cutoffs, now, policy.batch_size)
        rows = stage_requests(session, found, now)
    await relay.send(rows)
    for job in found:
        RECOVERED.labels(job.reason).inc()
        log.info("recovery.job_requested", job_id=str(job.job_id), reason=job.reason)
    return found


def stage_requests(
    session: AsyncSession, found: list[Stranded], now: datetime
) -> list[OutboxMessage]:
    """The events each swept job needs: ``job.recovered`` and a publish request, or the final
    failure of a missed slot."""
    rows = []
    for job in found:
        if job.reason in DISPATCHED:  # its status changed: a live update, before the request
            rows.append(stage_change(session, _dispatched(job), now))
        if job.reason == "missed":
            rows.append(_missed(session, job, now))
            continue
        notice = JobRecovered(job_id=job.job_id, asset_id=job.asset_id, reason=job.reason)
        rows.append(
            stage(
                session,
                notice,
                Envelope.wrap(
                    notice,
                    tenant_id=job.tenant_id,
                    subject_id=job.job_id,
                    now=now,
                ),
            )
        )
        rows.append(_request(session, job, now))
    return rows


DISPATCHED = {"scheduled_due": JobStatus.QUEUED, "missed": JobStatus.MISSED}
"""Sweep reasons that change the job's status (the others only request it again)."""


def _dispatched(job: Stranded) -> JobChanged:
    """A scheduled job (never tried yet) that fell due: now queued, or missed."""
    return JobChanged(
        tenant_id=job.tenant_id,
        job_id=job.job_id,
        asset_id=job.asset_id,
        channel_id=job.channel_id,
        platform=job.platform,
        status=DISPATCHED[job.reason].value,
        error_code="missed_slot" if job.reason == "missed" else None,
    )


def _request(session: AsyncSession, job: Stranded, now: datetime) -> OutboxMessage:
    command = PublishRequested(job_id=job.job_id, priority=job.priority)
    envelope = Envelope.wrap(
        command,
        tenant_id=job.tenant_id,
        subject_id=job.job_id,
        now=now,
        idempotency_key=f"publish.requested:{job.job_id}:{job.reason}:{now.isoformat()}",
    )
    return stage(session, command, envelope)


def _missed(session: AsyncSession, job: Stranded, now: datetime) -> OutboxMessage:
    """A missed slot is a final failure: the alerter hears about it like any dead letter."""
    event = PublishFailed(
        job_id=job.job_id,
        asset_id=job.asset_id,
        channel_id=job.channel_id,
        platform=job.platform,
        error_class="missed",
        error_code="missed_slot",
        message="the scheduled slot passed longer ago than the asset allows publishing late",
        attempt=0,
        final=True,
    )
    envelope = Envelope.wrap(
        event,
        tenant_id=job.tenant_id,
        subject_id=job.job_id,
        now=now,
        idempotency_key=f"publish.failed:{job.job_id}:missed",
    )
    return stage(session, event, envelope)
