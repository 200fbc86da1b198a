"""``herald jobs redrive``: requeue dead-lettered jobs in batches, through the outbox.

The CLI does not talk to NATS: each batch commits the jobs' new state with their publish
requests in the outbox, and the running services' relays (or the recovery service) send them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from herald.api.service_layer import job_control
from herald.common.db.engine import Database
from herald.common.db.models import PublishJob

BATCH = 200


@dataclass(frozen=True)
class RedriveFilter:
    status: str
    platform: str | None
    tenant_id: uuid.UUID | None
    limit: int


async def redrive(
    database_url: str, selection: RedriveFilter, dry_run: bool, progress: Callable[[str], None]
) -> int:
    """Requeue the jobs ``selection`` matches; returns how many (or would be, when dry)."""
    db = Database(database_url, pool_size=1)
    done, after = 0, uuid.UUID(int=0)
    try:
        while done < selection.limit:
            async with db.transaction() as session:
                query = select(PublishJob).where(
                    PublishJob.status == selection.status, PublishJob.id > after
                )
                if selection.platform:
                    query = query.where(PublishJob.platform == selection.platform)
                if selection.tenant_id:
                    query = query.where(PublishJob.tenant_id == selection.tenant_id)
                size = min(BATCH, selection.limit - done)
                batch = (
                    await session.scalars(
                        query.order_by(PublishJob.id).limit(size).with_for_update(skip_locked=True)
                    )
                ).all()
                if not batch:
                    break
                if not dry_run:
                    now = datetime.now(UTC)
                    for job in batch:
                        job_control.retry(session, job, now)
            done, after = done + len(batch), batch[-1].id
            progress(f"… {done} job(s)")
    finally:
        await db.dispose()
    return done
