"""Sweeps that heal what crashes left behind. Each is bounded, idempotent and replica-safe."""

from __future__ import annotations

import structlog
from prometheus_client import Counter

from herald.common.outbox import OutboxRelay

log = structlog.get_logger(__name__)

RECOVERED = Counter("herald_recovered_total", "Things the recovery service healed", ["reason"])


async def drain_outbox(relay: OutboxRelay, *, grace: bool) -> int:
    """Publish outbox rows that were committed but never confirmed by JetStream."""
    published = await relay.drain(grace=grace)
    if published:
        RECOVERED.labels("outbox_unsent").inc(published)
        log.info("recovery.outbox_drained", rows=published)
    return published
