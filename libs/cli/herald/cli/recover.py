"""``herald recover``: run the recovery sweeps once, or show what they would do.

Dry runs execute the sweeps' own statements inside a transaction that is rolled back, so what
they print is exactly what a real sweep would have taken. Real runs commit the jobs' new state
with their publish requests in the outbox; the running services relay them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select

from herald.common.db.engine import Database
from herald.common.db.models import OutboxMessage
from herald.recovery.adapters import job_sweeps
from herald.recovery.domain.sweep_policy import SweepPolicy
from herald.recovery.sweeps import stage_requests


async def recover(
    database_url: str, policy: SweepPolicy, dry_run: bool, say: Callable[[str], None]
) -> Counter[str]:
    """One pass of the job sweeps; returns how many jobs each reason covered."""
    db = Database(database_url, pool_size=1)
    try:
        now = datetime.now(UTC)
        cutoffs = policy.cutoffs(now)
        async with db.sessions() as session:
            unsent = await session.scalar(
                select(func.count()).where(OutboxMessage.sent_at.is_(None))
            )
            found = await job_sweeps.dispatch_due(session, cutoffs, now, policy.batch_size)
            found += await job_sweeps.request_stranded(session, cutoffs, now, policy.batch_size)
            if dry_run:
                await session.rollback()
            else:
                stage_requests(session, found, now)
                await session.commit()
        for job in found:
            say(f"{job.reason:>14}  job {job.job_id}  ({job.platform}, {job.priority})")
        say(f"{'outbox_unsent':>14}  {unsent or 0} row(s) waiting for a relay")
        return Counter(job.reason for job in found)
    finally:
        await db.dispose()
