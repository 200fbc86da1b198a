"""Assets: create, edit, submit, approve (jobs and their requests in one transaction), reject,
cancel, list."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BindParameter, Table, Update, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from herald.api.adapters.repositories import AssetRepository, ChannelRepository
from herald.api.auth import Principal
from herald.api.domain.approval import JobPlan, NotApprovable, plan_jobs
from herald.api.domain.review import NotAllowed, ReviewCommand, next_status
from herald.api.schemas import AssetIn, AssetPatch
from herald.api.service_layer import audit, job_control
from herald.api.service_layer.errors import Invalid, NotFound, Refused
from herald.common.db.bound_rows import bound_rows
from herald.common.db.models import Asset, AuditEvent, OutboxMessage, PublishJob
from herald.common.domain.asset_states import AssetStatus
from herald.common.domain.job_commands import CancelEffect, cancel_effect
from herald.common.domain.job_states import JobStatus
from herald.common.events import AssetApproved, Envelope, Event, PublishRequested
from herald.common.ids import new_id
from herald.common.live_updates import change_envelope, job_change
from herald.common.outbox import TOLD, message_of, told_binds, told_params


@dataclass
class AssetView:
    asset: Asset
    jobs: Sequence[PublishJob]
    staged: list[OutboxMessage] = field(default_factory=list)


async def _check_channels(
    session: AsyncSession, tenant_id: uuid.UUID, channel_ids: list[uuid.UUID]
) -> None:
    known = await ChannelRepository(session, tenant_id).platforms_of(channel_ids)
    unknown = [str(c) for c in channel_ids if c not in known]
    if unknown:
        raise Invalid(
            "unknown_channel",
            "Unknown channel",
            f"not channels of this tenant: {', '.join(unknown)}",
        )


async def create(
    session: AsyncSession, tenant_id: uuid.UUID, body: AssetIn, author: uuid.UUID | None = None
) -> AssetView:
    await _check_channels(session, tenant_id, body.channel_ids)
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
        publish_late_within_s=(
            None
            if body.publish_late_within_minutes is None
            else body.publish_late_within_minutes * 60
        ),
        created_by=author,
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
    session: AsyncSession,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    now: datetime,
    reviewer: Principal | str = audit.OPERATOR,
) -> AssetView:
    """One job per channel, ``asset.approved`` and a request per due job, and the approval's
    audit row (by ``reviewer``), all or nothing."""
    found = await AssetRepository(session, tenant_id).for_approval(asset_id)
    if found is None:
        raise NotFound("asset")
    asset, channels = found
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
    approved = {
        "status": AssetStatus.APPROVED.value,
        "approved_at": now,
        "version": asset.version + 1,
        "reviewed_at": now,
        "reviewed_by": reviewer.key_id if isinstance(reviewer, Principal) else None,
        "rejection_reason": None,
        "updated_at": now,
    }
    event = AssetApproved(asset_id=asset.id, job_ids=[job.id for job in jobs])
    key = f"asset-approved:{asset.id}"
    staged: list[tuple[Event, Envelope]] = [
        (
            event,
            Envelope.wrap(
                event, tenant_id=tenant_id, subject_id=asset.id, now=now, idempotency_key=key
            ),
        )
    ]
    changes = [job_change(job) for job in jobs]
    staged += [(change, change_envelope(change, now)) for change in changes]  # before requests
    staged += [_request(job, now) for job in jobs if job.status == JobStatus.QUEUED]
    told = [message_of(event, envelope) for event, envelope in staged]
    params: dict[str, object] = {"asset_id": asset.id}
    params.update((f"to_{name}", value) for name, value in approved.items())
    for n, job in enumerate(jobs):
        params.update((f"job{n}_{name}", getattr(job, name)) for name in _JOB_COLUMNS)
    params.update(told_params(told))
    params.update(
        audit.audit_params(tenant_id, reviewer, "asset.approved", "asset", asset.id, jobs=len(jobs))
    )
    await session.execute(_approval(len(jobs), len(told)), params)
    for name, value in approved.items():  # the loaded asset as it now is; nothing to flush
        set_committed_value(asset, name, value)
    return AssetView(asset, jobs, told)


_JOBS = cast(Table, PublishJob.__table__)
_OUTBOX = cast(Table, OutboxMessage.__table__)
_AUDIT = cast(Table, AuditEvent.__table__)
_JOB_COLUMNS = (  # what ``_job`` sets; the rest are the table's defaults
    "id",
    "tenant_id",
    "asset_id",
    "channel_id",
    "platform",
    "status",
    "priority",
    "scheduled_for",
    "queued_at",
    "requested_at",
    "attempts",
    "version",
    "publish_late_within_s",
)
_APPROVE = (
    update(Asset.__table__)  # type: ignore[arg-type]
    .where(Asset.__table__.c.id == bindparam("asset_id"))
    .values(
        status=bindparam("to_status"),
        approved_at=bindparam("to_approved_at"),
        version=bindparam("to_version"),
        reviewed_at=bindparam("to_reviewed_at"),
        reviewed_by=bindparam("to_reviewed_by"),
        rejection_reason=bindparam("to_rejection_reason"),
        updated_at=bindparam("to_updated_at"),
    )
)


def _job_binds(n: int) -> dict[str, BindParameter[Any]]:
    return {name: bindparam(f"job{n}_{name}", type_=_JOBS.c[name].type) for name in _JOB_COLUMNS}


@functools.lru_cache(maxsize=64)
def _approval(jobs: int, told: int) -> Update:
    """The approval's writes as one statement (one round trip, not four): the asset's update,
    with its jobs' rows, its outbox rows and its audit row inserted by data-modifying CTEs.
    Built once per shape (jobs, outbox rows), and compiled once too (``bound_rows``), with
    bind parameters named ``job<n>_<column>``, ``told<n>_<column>`` and ``audit_<column>``
    (never a column's own name: the UPDATE would SET it too)."""
    told_rows = bound_rows([told_binds(n) for n in range(told)])
    ctes = [
        insert(_OUTBOX).from_select(list(TOLD), told_rows).cte("told"),
        insert(_AUDIT).values(audit.audit_binds()).cte("audited"),
    ]
    if jobs:
        job_rows = bound_rows([_job_binds(n) for n in range(jobs)])
        ctes.insert(0, insert(_JOBS).from_select(list(_JOB_COLUMNS), job_rows).cte("jobs"))
    return _APPROVE.add_cte(*ctes)


async def _locked(session: AsyncSession, tenant_id: uuid.UUID, asset_id: uuid.UUID) -> Asset:
    asset = await AssetRepository(session, tenant_id).get(asset_id, for_update=True)
    if asset is None:
        raise NotFound("asset")
    return asset


def _move(asset: Asset, command: ReviewCommand, jobs: Sequence[PublishJob] = ()) -> AssetStatus:
    try:
        return next_status(
            AssetStatus(asset.status), command, [(JobStatus(j.status), j.attempts) for j in jobs]
        )
    except NotAllowed as error:
        raise Refused(
            f"asset_not_{_CODES[command]}",
            f"Asset cannot be {_CODES[command]}",
            str(error),
            asset_status=asset.status,
        ) from None


_CODES = {
    ReviewCommand.SUBMIT: "submittable",
    ReviewCommand.REJECT: "rejectable",
    ReviewCommand.EDIT: "editable",
    ReviewCommand.APPROVE: "approvable",
}


async def submit(
    session: AsyncSession, tenant_id: uuid.UUID, asset_id: uuid.UUID, now: datetime
) -> AssetView:
    """Ask for review: draft (or rejected, after changes) → submitted."""
    asset = await _locked(session, tenant_id, asset_id)
    asset.status = _move(asset, ReviewCommand.SUBMIT)
    asset.submitted_at, asset.version, asset.updated_at = now, asset.version + 1, now
    return AssetView(asset, [])


async def reject(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    reason: str,
    now: datetime,
    reviewer: uuid.UUID | None = None,
) -> AssetView:
    """Say no, with a reason the editor sees: draft or submitted → rejected."""
    asset = await _locked(session, tenant_id, asset_id)
    asset.status = _move(asset, ReviewCommand.REJECT)
    asset.rejection_reason, asset.reviewed_at, asset.reviewed_by = reason, now, reviewer
    asset.version, asset.updated_at = asset.version + 1, now
    return AssetView(asset, [])


async def edit(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    patch: AssetPatch,
    now: datetime,
) -> tuple[AssetView, list[str], str]:
    """Change the fields sent; an approved asset goes back to review and its jobs, none of which
    has started (checked under their row locks), are discarded. Returns the changed fields and
    the status before."""
    asset = await _locked(session, tenant_id, asset_id)
    was = asset.status
    assets = AssetRepository(session, tenant_id)
    jobs = await assets.jobs(asset_id, for_update=True)
    target = _move(asset, ReviewCommand.EDIT, jobs)
    changes = patch.model_dump(exclude_unset=True, mode="python")
    if "channel_ids" in changes:
        await _check_channels(session, tenant_id, changes["channel_ids"])
        changes["channel_ids"] = list(dict.fromkeys(changes["channel_ids"]))
    if "media" in changes:
        changes["media"] = [m.model_dump(mode="json") for m in patch.media or []]
    if "publish_late_within_minutes" in changes:
        minutes = changes.pop("publish_late_within_minutes")
        changes["publish_late_within_s"] = None if minutes is None else minutes * 60
    for name, value in changes.items():
        setattr(asset, name, value)
    if target is not AssetStatus(asset.status):  # approved → back to review
        for job in jobs:
            await session.delete(job)
        asset.approved_at = asset.reviewed_at = asset.reviewed_by = None
        asset.submitted_at = now
        jobs = []
    asset.status, asset.version, asset.updated_at = target, asset.version + 1, now
    await session.flush()
    return AssetView(asset, jobs), sorted(patch.model_fields_set), was


@dataclass(frozen=True)
class AssetFilter:
    status: AssetStatus | None = None


async def page(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    where: AssetFilter,
    limit: int,
    cursor: uuid.UUID | None,
) -> tuple[list[AssetView], uuid.UUID | None]:
    """Newest first, keyset over the UUIDv7 id; each asset with its jobs (one more query)."""
    assets = AssetRepository(session, tenant_id)
    rows, next_cursor = await assets.page(where.status, limit, cursor)
    jobs = await assets.jobs_of([a.id for a in rows])
    return [AssetView(a, jobs.get(a.id, [])) for a in rows], next_cursor


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
    asset.updated_at = now
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
        publish_late_within_s=asset.publish_late_within_s,
    )


def _request(job: PublishJob, now: datetime) -> tuple[Event, Envelope]:
    command = PublishRequested(job_id=job.id, priority=job.priority)
    key = f"publish.requested:{job.id}:approved"
    return command, Envelope.wrap(
        command, tenant_id=job.tenant_id, subject_id=job.id, now=now, idempotency_key=key
    )
