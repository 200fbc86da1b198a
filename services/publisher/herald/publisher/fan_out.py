"""asset.approved → one publish.requested per queued job of the asset (idempotent via inbox)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from herald.common.db.models import PublishJob
from herald.common.domain.job_states import JobStatus
from herald.common.events import AssetApproved, Envelope, PublishRequested
from herald.common.inbox import first_delivery
from herald.common.outbox import stage
from herald.common.runtime import Runtime

CONSUMER = "publisher.asset_approved"


async def request_jobs(runtime: Runtime, envelope: Envelope) -> int:
    """Stage a publish request for each queued job of the approved asset; returns how many."""
    approved = envelope.payload(AssetApproved)
    now = datetime.now(UTC)
    async with runtime.db.transaction() as session:
        if not await first_delivery(session, CONSUMER, envelope.id):
            return 0
        jobs = (
            await session.execute(
                select(PublishJob.id, PublishJob.priority).where(
                    PublishJob.id.in_(approved.job_ids), PublishJob.status == JobStatus.QUEUED
                )
            )
        ).all()
        rows = []
        for job in jobs:
            command = PublishRequested(job_id=job.id, priority=job.priority)
            rows.append(
                stage(
                    session,
                    command,
                    Envelope.wrap(
                        command,
                        tenant_id=envelope.tenant_id,
                        subject_id=job.id,
                        now=now,
                        idempotency_key=f"publish.requested:{job.id}:approved",
                    ),
                )
            )
    await runtime.relay.send(rows)
    return len(rows)
