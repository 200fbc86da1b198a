"""``GET /v1/queue/stats``: the tenant's jobs now (by status and priority, the oldest queued
wait) and over the last minutes (finished by status and priority, throughput per minute)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from herald.api.adapters import queue_readings
from herald.api.auth import State, Who
from herald.api.domain import queue_stats
from herald.api.monitoring_schemas import QueueStatsOut

router = APIRouter(prefix="/v1/queue", tags=["queue"])


@router.get("/stats")
async def get_queue_stats(
    who: Who,
    state: State,
    minutes: Annotated[
        int, Query(ge=1, le=60, description="the window: this many one-minute buckets")
    ] = 15,
) -> QueueStatsOut:
    """Counts of your jobs. ``live`` is now; ``finished`` and ``throughput`` cover the last
    ``minutes`` minutes, the current one included (so its bucket is still filling)."""
    now = datetime.now(UTC)
    since = queue_stats.window_start(now, minutes)
    until = since + minutes * queue_stats.MINUTE
    async with state.db.transaction(who.tenant_id) as session:
        live = await queue_readings.live_jobs(session, who.tenant_id)
        finished = await queue_readings.finished_jobs(session, who.tenant_id, since, until)
    stats = queue_stats.summarize(live.counts, live.oldest_requested_at, finished, now, minutes)
    return QueueStatsOut.model_validate(asdict(stats))
