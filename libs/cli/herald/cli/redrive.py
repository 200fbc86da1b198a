"""``herald jobs redrive``: requeue dead-lettered jobs in batches, through the outbox.

The CLI does not talk to NATS: each batch commits the jobs' new state with their publish
requests in the outbox, and the running services' relays (or the recovery service) send them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from herald.api.service_layer.job_control import RedriveFilter, redrive_batch
from herald.common.db.engine import Database

BATCH = 200


async def redrive(
    database_url: str, selection: RedriveFilter, dry_run: bool, progress: Callable[[str], None]
) -> int:
    """Requeue the jobs ``selection`` matches; returns how many (or would be, when dry)."""
    db = Database(database_url, pool_size=1)
    done, after = 0, uuid.UUID(int=0)
    try:
        while done < selection.limit:
            size = min(BATCH, selection.limit - done)
            async with db.transaction() as session:
                batch, _ = await redrive_batch(
                    session, selection, after, size, datetime.now(UTC), dry_run=dry_run
                )
            if not batch:
                break
            done, after = done + len(batch), batch[-1].id
            progress(f"… {done} job(s)")
    finally:
        await db.dispose()
    return done
