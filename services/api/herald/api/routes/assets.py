"""Assets: create, read, approve. Approval commits the asset, its jobs and the event at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api import job_control
from herald.api.adapters.repositories import AssetRepository, ChannelRepository
from herald.api.auth import Principal, Role, State, Who, require
from herald.api.domain.approval import NotApprovable, plan_jobs
from herald.api.problems import Problem, not_found
from herald.api.schemas import AssetIn, AssetOut, JobSummary
from herald.common.db.models import Asset, OutboxMessage, PublishJob
from herald.common.domain.asset_states import AssetStatus
from herald.common.domain.job_commands import CancelEffect, cancel_effect
from herald.common.domain.job_states import JobStatus
from herald.common.events import AssetApproved, Envelope, PublishRequested
from herald.common.ids import new_id
from herald.common.outbox import stage

router = APIRouter(prefix="/v1/assets", tags=["assets"])
tracer = trace.get_tracer(__name__)
log = structlog.get_logger(__name__)


def _out(asset: Asset, jobs: Sequence[PublishJob]) -> AssetOut:
    summaries = [JobSummary.model_validate(job, from_attributes=True) for job in jobs]
    return AssetOut.model_validate(
        {**{c: getattr(asset, c) for c in AssetOut.model_fields if c != "jobs"}, "jobs": summaries}
    )


@router.post("", status_code=201, dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def create_asset(body: AssetIn, who: Who, state: State) -> AssetOut:
    async with state.db.transaction() as session:
        known = await ChannelRepository(session, who.tenant_id).platforms_of(body.channel_ids)
        unknown = [str(c) for c in body.channel_ids if c not in known]
        if unknown:
            raise Problem(
                422,
                "unknown_channel",
                "Unknown channel",
                f"not channels of this tenant: {', '.join(unknown)}",
            )
        asset = Asset(
            id=new_id(),
            tenant_id=who.tenant_id,
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
    return _out(asset, [])


@router.get("/{asset_id}")
async def get_asset(asset_id: uuid.UUID, who: Who, state: State) -> AssetOut:
    async with state.db.transaction() as session:
        assets = AssetRepository(session, who.tenant_id)
        asset = await assets.get(asset_id)
        if asset is None:
            raise not_found("asset")
        return _out(asset, await assets.jobs(asset_id))


@router.post("/{asset_id}/approve", dependencies=[require(Role.REVIEWER)])
async def approve_asset(asset_id: uuid.UUID, who: Who, state: State) -> AssetOut:
    """Approve: the jobs, asset.approved and a publish request per due job, in one transaction."""
    with tracer.start_as_current_span(
        "asset.approve", attributes={"herald.asset_id": str(asset_id)}
    ):
        async with state.db.transaction() as session:
            asset, jobs, staged = await _approve(session, who, asset_id, datetime.now(UTC))
        await state.relay.send(staged)
    log.info("asset.approved", asset_id=str(asset_id), jobs=len(jobs))
    return _out(asset, jobs)


async def _approve(
    session: AsyncSession, who: Principal, asset_id: uuid.UUID, now: datetime
) -> tuple[Asset, list[PublishJob], list[OutboxMessage]]:
    asset = await AssetRepository(session, who.tenant_id).get(asset_id, for_update=True)
    if asset is None:
        raise not_found("asset")
    channels = await ChannelRepository(session, who.tenant_id).platforms_of(asset.channel_ids)
    try:
        plans = plan_jobs(
            AssetStatus(asset.status), channels, asset.channel_ids, asset.scheduled_for, now
        )
    except NotApprovable as error:
        raise Problem(
            409,
            "asset_not_approvable",
            "Asset cannot be approved",
            str(error),
            asset_status=asset.status,
        ) from None
    jobs = [
        PublishJob(
            id=new_id(),
            tenant_id=who.tenant_id,
            asset_id=asset.id,
            channel_id=plan.channel_id,
            platform=plan.platform,
            status=plan.status,
            priority=asset.priority,
            scheduled_for=plan.scheduled_for,
            queued_at=None if plan.scheduled_for else now,
            requested_at=None if plan.scheduled_for else now,
            attempts=0,
            version=1,
        )
        for plan in plans
    ]
    session.add_all(jobs)
    asset.status, asset.approved_at, asset.version = AssetStatus.APPROVED, now, asset.version + 1
    event = AssetApproved(asset_id=asset.id, job_ids=[job.id for job in jobs])
    envelope = Envelope.wrap(
        event,
        tenant_id=who.tenant_id,
        subject_id=asset.id,
        now=now,
        idempotency_key=f"asset-approved:{asset.id}",
    )
    staged = [stage(session, event, envelope)]
    for job in jobs:
        if job.status == JobStatus.QUEUED:
            command = PublishRequested(job_id=job.id, priority=job.priority)
            request = Envelope.wrap(
                command,
                tenant_id=who.tenant_id,
                subject_id=job.id,
                now=now,
                idempotency_key=f"publish.requested:{job.id}:approved",
            )
            staged.append(stage(session, command, request))
    await session.flush()
    return asset, jobs, staged


@router.post("/{asset_id}/cancel", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def cancel_asset(asset_id: uuid.UUID, who: Who, state: State) -> AssetOut:
    """Cancel the asset and every unfinished job (a job mid-call keeps its call's outcome)."""
    now = datetime.now(UTC)
    async with state.db.transaction() as session:
        assets = AssetRepository(session, who.tenant_id)
        asset = await assets.get(asset_id, for_update=True)
        if asset is None:
            raise not_found("asset")
        if asset.status in (AssetStatus.CANCELLED, AssetStatus.REJECTED):
            raise Problem(
                409,
                "asset_not_cancellable",
                "Asset cannot be cancelled",
                f"the asset is already {asset.status}",
                asset_status=asset.status,
            )
        asset.status, asset.version = AssetStatus.CANCELLED, asset.version + 1
        staged = []
        for job in await assets.jobs(asset_id):
            locked = await job_control.lock_job(session, job.id, who.tenant_id)
            if (
                locked is not None
                and cancel_effect(JobStatus(locked.status)) is not CancelEffect.REFUSED
            ):
                staged += job_control.cancel(session, locked, now).staged
        jobs = await assets.jobs(asset_id)
    await state.relay.send(staged)
    log.info("asset.cancelled", asset_id=str(asset_id), jobs=len(jobs))
    return _out(asset, jobs)
