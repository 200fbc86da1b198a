"""Fairness between tenants: one tenant's backlog may not take every worker (pure)."""

from __future__ import annotations

import math
import random
import uuid

BUSY_RETRY_S = {"high": (0.02, 0.1), "normal": (0.1, 0.4), "low": (0.3, 1.0)}


class TenantBusy(Exception):
    """The job's tenant already has its share in flight; the request comes back shortly."""

    def __init__(self, job_id: uuid.UUID):
        super().__init__(f"tenant of job {job_id} is at its concurrency cap")


CLASS_SHARE = {"high": 1.0, "normal": 0.85, "low": 0.7}
"""The part of a tenant's cap each class may fill: the rest is kept free for higher classes,
so a high job finds room at once behind a low backlog, and low still gets most of the cap."""


def has_room(running: int, cap: int, priority: str = "high") -> bool:
    """Whether a tenant with ``running`` jobs in flight may start one more of ``priority``
    (``cap`` 0: no cap)."""
    if cap <= 0:
        return True
    share = CLASS_SHARE.get(priority, CLASS_SHARE["normal"])
    return running < max(1, math.floor(cap * share))


def busy_delay(priority: str, rng: random.Random, delivered: int = 1) -> float:
    """When a request whose tenant is at its cap comes back: high soonest, so it takes the
    tenant's next free slot ahead of normal and low; longer the more often it was turned
    away (doubling every 4 deliveries, up to 32 times), so it never burns through MaxDeliver."""
    low, high = BUSY_RETRY_S.get(priority, BUSY_RETRY_S["normal"])
    growth: int = 2 ** min(5, max(0, delivered - 1) // 4)
    return rng.uniform(low, high) * growth
