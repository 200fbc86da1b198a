"""Keeping a claimed job's lease, and its JetStream message, alive during a long platform call.

Every third of the lease (and of the consumer's ack wait) the lease is extended with the
fencing token and an in-progress ack resets the message's redelivery timer. A lost lease is
logged; the call goes on, and its result will be fenced out when it is recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime

import structlog
from prometheus_client import Counter

from herald.common.db.engine import Database
from herald.publisher.adapters import job_store
from herald.publisher.adapters.job_store import Claim

log = structlog.get_logger(__name__)

LEASE_EXTENSIONS = Counter(
    "herald_lease_extensions_total", "Lease extensions during long calls", ["result"]
)

Heartbeat = Callable[[], Awaitable[None]]


class LeaseLost(Exception):
    """The job passed to another worker before our platform call: we must not make it."""


class LeaseClock:
    """When our lease runs out, on this process's monotonic clock (which keeps running while
    the process is paused). Checked right before the platform call: a worker resumed after a
    pause longer than its lease must not post a job another worker may have taken over."""

    def __init__(self, lease_s: float, expires_at: datetime | None) -> None:
        self.lease_s = lease_s
        self.margin_s = min(1.0, lease_s / 5)  # for clocks that disagree a little
        # from the claim's own expiry, so a pause right after the claim is counted too
        left = (expires_at - datetime.now(UTC)).total_seconds() if expires_at else lease_s
        self.valid_until = time.monotonic() + left - self.margin_s

    def renewed(self) -> None:
        self.valid_until = time.monotonic() + self.lease_s - self.margin_s

    def expired(self) -> bool:
        return time.monotonic() >= self.valid_until


def renewal_interval(lease_s: float, ack_wait_s: float) -> float:
    """Renew three times per lease or ack wait, whichever is shorter (pure)."""
    return max(0.05, min(lease_s, ack_wait_s) / 3)


@asynccontextmanager
async def kept_alive(
    db: Database,
    claim: Claim,
    clock: LeaseClock,
    ack_wait_s: float,
    heartbeat: Heartbeat | None,
) -> AsyncIterator[None]:
    """Extend the lease and send in-progress acks until the block ends."""
    lease_s = clock.lease_s

    async def renew() -> None:
        interval = renewal_interval(lease_s, ack_wait_s)
        while True:
            await asyncio.sleep(interval)
            try:
                async with db.transaction() as session:
                    kept = await job_store.extend_lease(session, claim, datetime.now(UTC), lease_s)
                if kept:
                    clock.renewed()
                if kept and heartbeat is not None:
                    await heartbeat()
            except Exception as error:  # the next tick tries again; the call is not disturbed
                LEASE_EXTENSIONS.labels("error").inc()
                log.warning("lease.renew_failed", job_id=str(claim.job_id), error=str(error))
                continue
            LEASE_EXTENSIONS.labels("kept" if kept else "lost").inc()
            if not kept:  # another worker holds the job now; our result will be fenced out
                log.warning("lease.lost", job_id=str(claim.job_id), version=claim.version)
                return

    task = asyncio.create_task(renew(), name=f"lease-{claim.job_id}")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def still_ours(db: Database, claim: Claim, clock: LeaseClock) -> bool:
    """Right before a platform call: a lease that ran out locally is confirmed (and extended)
    in the database; False when another worker took the job over meanwhile."""
    if not clock.expired():
        return True
    async with db.transaction() as session:
        kept = await job_store.extend_lease(session, claim, datetime.now(UTC), clock.lease_s)
    if kept:
        clock.renewed()
    LEASE_EXTENSIONS.labels("reconfirmed" if kept else "lost_before_call").inc()
    return kept
