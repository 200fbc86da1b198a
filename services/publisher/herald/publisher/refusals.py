"""A platform refused a channel's credentials for good: what follows, in the transaction that
records it, wherever the refusal was met (a job's call, a verify, the token upkeep).

The channel becomes ``reauth_required`` — only if it is still ``ok`` and still holds the
credentials that were refused (new ones given meanwhile deserve their own try). Its jobs that
no worker holds park in ``waiting_auth`` with it, so none of them calls the platform with
credentials it refused; and ``channel.auth_failed`` is staged (the alerter raises the alert).
Reconnecting the channel resumes them all (``resume_waiting_auth`` in the API).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.credentials import Sealed
from herald.common.db.models import OutboxMessage
from herald.common.events import ChannelAuthFailed, Envelope
from herald.common.live_updates import stage_job_change
from herald.common.outbox import stage
from herald.publisher.adapters import job_store
from herald.publisher.adapters.job_store import Claim
from herald.publisher.domain.errors import PublishError


@dataclass(frozen=True)
class RefusedChannel:
    channel_id: uuid.UUID
    tenant_id: uuid.UUID
    platform: str


@dataclass(frozen=True)
class Recorded:
    marked: bool  # this refusal made the channel reauth_required
    parked: int  # its other jobs parked with it
    staged: list[OutboxMessage] = field(default_factory=list)  # to relay after the commit


async def record_refusal(
    session: AsyncSession,
    channel: RefusedChannel,
    refused: Sealed | None,
    error: PublishError,
    now: datetime,
    *,
    job: Claim | None = None,
) -> Recorded:
    """Mark the channel, park its waiting jobs and stage ``channel.auth_failed``. ``job``: the
    claimed job that met the refusal (already recorded as parked by the caller): the event
    names it, and is staged even when the channel had been marked before."""
    marked = await job_store.mark_reauth_required(session, channel.channel_id, refused)
    staged: list[OutboxMessage] = []
    parked = []
    if marked:
        parked = await job_store.park_channel_jobs(
            session, channel.tenant_id, channel.channel_id, error.code, now
        )
        staged += [stage_job_change(session, parked_job, now) for parked_job in parked]
    if marked or job is not None:
        staged.append(_stage_auth_failed(session, channel, refused, error, now, job))
    return Recorded(marked, len(parked), staged)


def _stage_auth_failed(
    session: AsyncSession,
    channel: RefusedChannel,
    refused: Sealed | None,
    error: PublishError,
    now: datetime,
    job: Claim | None,
) -> OutboxMessage:
    event = ChannelAuthFailed(
        channel_id=channel.channel_id,
        platform=channel.platform,
        job_id=job.job_id if job else None,
        error_code=error.code,
        message=error.message,
    )
    if job is not None:  # one per attempt
        key = f"{event.type}:{job.job_id}:{job.attempt}"
    else:  # one per refused credentials
        digest = hashlib.sha256(refused.ciphertext if refused else b"").hexdigest()[:32]
        key = f"{event.type}:{channel.channel_id}:{digest}"
    envelope = Envelope.wrap(
        event,
        tenant_id=channel.tenant_id,
        subject_id=channel.channel_id,
        now=now,
        idempotency_key=key,
    )
    return stage(session, event, envelope)
