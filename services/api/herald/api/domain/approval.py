"""What approving an asset creates: one publish job per target channel (pure)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from herald.common.domain.asset_states import APPROVABLE, AssetStatus
from herald.common.domain.job_states import JobStatus


@dataclass(frozen=True)
class JobPlan:
    channel_id: uuid.UUID
    platform: str
    status: JobStatus
    scheduled_for: datetime | None


class NotApprovable(ValueError):
    """The asset is not in a state that can be approved."""


def plan_jobs(
    status: AssetStatus,
    channels: dict[uuid.UUID, str],
    channel_ids: list[uuid.UUID],
    scheduled_for: datetime | None,
    now: datetime,
) -> list[JobPlan]:
    """One job per distinct target channel, queued now or scheduled for later.

    ``channels`` maps the tenant's existing channel ids to their platform.
    """
    if status not in APPROVABLE:
        raise NotApprovable(f"an asset in status {status} cannot be approved")
    missing = [str(c) for c in channel_ids if c not in channels]
    if missing:
        raise NotApprovable(f"target channels no longer exist: {', '.join(missing)}")
    later = scheduled_for is not None and scheduled_for > now
    return [
        JobPlan(
            channel_id=channel_id,
            platform=channels[channel_id],
            status=JobStatus.SCHEDULED if later else JobStatus.QUEUED,
            scheduled_for=scheduled_for if later else None,
        )
        for channel_id in dict.fromkeys(channel_ids)
    ]
