"""Assets: create, approve (jobs and their requests in one transaction), cancel."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.adapters.repositories import AssetRepository, ChannelRepository
from herald.api.domain.approval import JobPlan, NotApprovable, plan_jobs
from herald.api.schemas import AssetIn
from herald.api.service_layer import job_control
from herald.api.service_layer.errors import Invalid, NotFound, Refused
from herald.common.db.models import Asset, OutboxMessage, PublishJob
from herald.common.domain.asset_states import AssetStatus
from herald.common.domain.job_commands import CancelEffect, cancel_effect
from herald.common.domain.job_states import JobStatus
from herald.common.events import AssetApproved, Envelope, PublishRequested
from herald.common.ids import new_id
from herald.common.outbox import stage


@dataclass
class AssetView:
    asset: Asset
    jobs: Sequence[PublishJob]
    staged: list[OutboxMessage] = field(default_factory=list)


async def create(session: AsyncSession, tenant_id: uuid.UUID, body: AssetIn) -> AssetView:
    known = await ChannelRepository(session, tenant_id).platforms_of(body.channel_ids)
    unknown = [str(c) for c in body.channel_ids if c not in known]
    if unknown:
        raise Invalid(
            "unknown_channel",
            "Unknown channel",
            f"not channels of this tenant: {', '.join(unknown)}",
        )
    asset = Asset(
        id=new_id(),
        tenant_id=tenant_id,
        title=body.title,
        body=body.body,
        media=[m.model_dump(mode="json") for m in body.media],
        channel_ids=list(dict.fromkeys(body.channel_ids)),
        status=AssetStatus.DRAFT,
        priority=body.priority,
        scheduled_for=body.scheduled_for,
    )
    session.add(asset)
    await session.flush()
    await session.refresh(asset)
    return AssetView(asset, [])


async def read(session: AsyncSession, tenant_id: uuid.UUID, asset_id: uuid.UUID) -> AssetView:
    assets = AssetRepository(session, tenant_id)
    asset = await assets.get(asset_id)
    if asset is None:
        raise NotFound("asset")
    return AssetView(asset, await assets.jobs(asset_id))


async def approve(
    session: AsyncSession, tenant_id: uuid.UUID, asset_id: uuid.UUID, now: datetime
) -> AssetView:
    """One job per channel, ``asset.approved`` and a request per due job, all or nothing."""
    asset = await AssetRepository(session, tenant_id).get(asset_id, for_update=True)
    if asset is None:
        raise NotFound("asset")
    channels = await ChannelRepository(session, tenant_id).platforms_of(asset.channel_ids)
    try:
        plans = plan_jobs(
            AssetStatus(asset.status), channels, asset.channel_ids, asset.scheduled_for, now
        )
    except NotApprovable as error:
        raise Refused(
            "asset_not_approvable",
            "Asset cannot be approved",
            str(error),
            asset_status=asset.status,
        ) from None
    jobs = [_job(asset, plan, now) for plan in plans]
    session.add_all(jobs)
    asset.status, asset.approved_at, asset.version = AssetStatus.APPROVED, now, asset.version + 1
    event = AssetApproved(asset_id=asset.id, job_ids=[job.id for job in jobs])
    staged = [
        stage(
            session,
            event,
            Envelope.wrap(
                event,
                tenant_id=tenant_id,
                subject_id=asset.id,
                now=now,
                idempotency_key=f"asset-approved:{asset.id}",
            ),
        )
    ]
    staged += [_request(session, job, now) for job in jobs if job.status == JobStatus.QUEUED]
    await session.flush()
    return AssetView(asset, jobs, staged)


async def cancel(
    session: AsyncSession, tenant_id: uuid.UUID, asset_id: uuid.UUID, now: datetime
) -> AssetView:
    """Cancel the asset and each unfinished job (a job mid-call keeps its call's outcome)."""
    assets = AssetRepository(session, tenant_id)
    asset = await assets.get(asset_id, for_update=True)
    if asset is None:
        raise NotFound("asset")
    if asset.status in (AssetStatus.CANCELLED, AssetStatus.REJECTED):
        raise Refused(
            "asset_not_cancellable",
            "Asset cannot be cancelled",
            f"the asset is already {asset.status}",
            asset_status=asset.status,
        )
    asset.status, asset.version = AssetStatus.CANCELLED, asset.version + 1
    staged: list[OutboxMessage] = []
    for job in await assets.jobs(asset_id):
        locked = await job_control.lock_job(session, job.id, tenant_id)
        if (
            locked is not None
            and cancel_effect(JobStatus(locked.status)) is not CancelEffect.REFUSED
        ):
            staged += job_control.cancel(session, locked, now).staged
    return AssetView(asset, await assets.jobs(asset_id), staged)


def _job(asset: Asset, plan: JobPlan, now: datetime) -> PublishJob:
    due = plan.scheduled_for is None
    return PublishJob(
        id=new_id(),
        tenant_id=asset.tenant_id,
        asset_id=asset.id,
        channel_id=plan.channel_id,
        platform=plan.platform,
        status=plan.status,
        priority=asset.priority,
        scheduled_for=plan.scheduled_for,
        queued_at=now if due else None,
        requested_at=now if due else None,
        attempts=0,
        version=1,
    )


def _request(session: AsyncSession, job: PublishJob, now: datetime) -> OutboxMessage:
    command = PublishRequested(job_id=job.id, priority=job.priority)
    return stage(
        session,
        command,
        Envelope.wrap(
            command,
            tenant_id=job.tenant_id,
            subject_id=job.id,
            now=now,
            idempotency_key=f"publish.requested:{job.id}:approved",
        ),
    )
