"""Dead letters: a message JetStream gave up on (MaxDeliver exhausted, or terminated as poison)
becomes a failed job and a final publish.failed, which the alerter turns into an alert.
Never silently dropped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from nats.js.errors import NotFoundError
from prometheus_client import Counter
from pydantic import ValidationError

from herald.common.db.models import PublishJob
from herald.common.domain.job_states import CLAIMABLE, JobStatus
from herald.common.events import Envelope, PublishFailed, PublishRequested
from herald.common.live_updates import stage_job_change
from herald.common.outbox import stage
from herald.common.runtime import Runtime
from herald.recovery.domain.advisories import Advisory

log = structlog.get_logger(__name__)

DEAD_LETTERS = Counter(
    "herald_dead_letters_total", "Messages JetStream gave up on", ["stream", "kind", "event"]
)
KNOWN_EVENTS = frozenset({PublishRequested.type, PublishFailed.type, "asset.approved"})


async def dead_letter(runtime: Runtime, advisory: Advisory) -> None:
    """Find the message the advisory is about and fail the job it asked for."""
    envelope = await _original(runtime, advisory)
    event = envelope.type if envelope and envelope.type in KNOWN_EVENTS else "unreadable"
    DEAD_LETTERS.labels(advisory.stream, advisory.kind, event).inc()
    log.error(
        "dead_letter",
        stream=advisory.stream,
        consumer=advisory.consumer,
        seq=advisory.stream_seq,
        kind=advisory.kind,
        event_type=event,
        deliveries=advisory.deliveries,
    )
    if envelope is None or envelope.type != PublishRequested.type:
        return
    try:
        job_id = uuid.UUID(str(envelope.data.get("job_id")))
    except ValueError:
        return
    await _fail_job(runtime, job_id, advisory)


async def _original(runtime: Runtime, advisory: Advisory) -> Envelope | None:
    if runtime.js is None:
        raise RuntimeError("JetStream is not connected yet")
    try:
        raw = await runtime.js.get_msg(advisory.stream, advisory.stream_seq)
        return Envelope.model_validate_json(raw.data or b"")
    except (NotFoundError, ValidationError):
        return None  # aged out of the stream, or never readable


async def _fail_job(runtime: Runtime, job_id: uuid.UUID, advisory: Advisory) -> None:
    now = datetime.now(UTC)
    async with runtime.db.transaction() as session:
        job = await session.get(PublishJob, job_id, with_for_update=True)
        if job is None or not _abandoned(job, now):
            return  # finished, or in a live worker's hands: another request got through
        code = f"dead_letter_{advisory.kind}"
        job.status, job.finished_at, job.last_error_code = JobStatus.FAILED, now, code
        job.lease_owner = job.lease_expires_at = job.next_attempt_at = None
        job.version += 1
        event = PublishFailed(
            job_id=job.id,
            asset_id=job.asset_id,
            channel_id=job.channel_id,
            platform=job.platform,
            error_class="dead_letter",
            error_code=code,
            message=f"JetStream gave up on its request ({advisory.kind}, "
            f"{advisory.deliveries} deliveries)",
            attempt=job.attempts,
            final=True,
        )
        rows = [
            stage(
                session,
                event,
                Envelope.wrap(
                    event,
                    tenant_id=job.tenant_id,
                    subject_id=job.id,
                    now=now,
                    idempotency_key=f"publish.failed:{job.id}:dead_letter:{advisory.stream_seq}",
                ),
            ),
            stage_job_change(session, job, now),
        ]
    await runtime.relay.send(rows)


def _abandoned(job: PublishJob, now: datetime) -> bool:
    status = JobStatus(job.status)
    expired = status is JobStatus.PROCESSING and (job.lease_expires_at or now) <= now
    return status in CLAIMABLE or expired
