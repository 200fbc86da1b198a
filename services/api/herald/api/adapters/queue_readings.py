"""The two grouped counts behind ``GET /v1/queue/stats``, one index each (migration 0014).

Both read index-only where the visibility map allows: live jobs from
``ix_publish_jobs_tenant_live`` (a small partial index, live rows only), finished ones from
``ix_publish_jobs_tenant_finished`` (a range of ``finished_at``). The status lists are rendered
as literals so that the planner can match them against the partial indexes' predicates with
generic (cached) plans too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnClause, bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.domain.queue_stats import FINISHED_STATUSES
from herald.common.db.models import PublishJob
from herald.common.domain.job_states import TERMINAL, JobStatus

_TERMINAL = sorted(status.value for status in TERMINAL)
_ONE_MINUTE: ColumnClause[Any] = literal_column("interval '1 minute'")
_EPOCH: ColumnClause[Any] = literal_column("timestamptz '2000-01-01 00:00:00+00'")


@dataclass(frozen=True)
class LiveReading:
    counts: list[tuple[str, str, int]]  # (status, priority, count)
    oldest_requested_at: datetime | None  # of a queued job


async def live_jobs(session: AsyncSession, tenant_id: uuid.UUID) -> LiveReading:
    terminal: BindParameter[Any] = bindparam(
        "terminal", _TERMINAL, expanding=True, literal_execute=True
    )
    queued = PublishJob.status == JobStatus.QUEUED.value
    rows = await session.execute(
        select(
            PublishJob.status,
            PublishJob.priority,
            func.count(),
            func.min(PublishJob.requested_at).filter(queued),
        )
        .where(PublishJob.tenant_id == tenant_id, PublishJob.status.not_in(terminal))
        .group_by(PublishJob.status, PublishJob.priority)
    )
    found = rows.all()
    oldest = [row[3] for row in found if row[3] is not None]
    return LiveReading([(s, p, n) for s, p, n, _ in found], min(oldest, default=None))


async def finished_jobs(
    session: AsyncSession, tenant_id: uuid.UUID, since: datetime, until: datetime
) -> list[tuple[datetime, str, str, int]]:
    """``(minute, status, priority, count)`` of jobs finished in ``[since, until)`` (minute
    starts), in one-minute bins (``date_bin``: whole UTC minutes, whatever the session's
    time zone)."""
    finished: BindParameter[Any] = bindparam(
        "finished", list(FINISHED_STATUSES), expanding=True, literal_execute=True
    )
    minute = func.date_bin(_ONE_MINUTE, PublishJob.finished_at, _EPOCH)
    rows = await session.execute(
        select(minute, PublishJob.status, PublishJob.priority, func.count())
        .where(
            PublishJob.tenant_id == tenant_id,
            PublishJob.finished_at >= since,
            PublishJob.finished_at < until,
            PublishJob.status.in_(finished),
        )
        .group_by(minute, PublishJob.status, PublishJob.priority)
    )
    return [(m, s, p, n) for m, s, p, n in rows.all()]
