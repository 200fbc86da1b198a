"""The transactional outbox and its relay.

``stage`` adds an event to the session of the state change that causes it, so both commit
together. After the commit the caller hands the staged rows to ``OutboxRelay.send`` (the fast
path); the relay's background loop, and the recovery service, publish whatever is left. The
outbox id is the ``Nats-Msg-Id``, so a row published twice is stored once by JetStream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.engine import Database
from herald.common.db.models import OutboxMessage
from herald.common.events.envelope import Envelope, Event
from herald.common.pacing import sleep_unless_stopped
from herald.common.telemetry import current_trace_headers

log = structlog.get_logger(__name__)

Publish = Callable[[str, bytes, dict[str, str]], Awaitable[None]]
"""Publishes (subject, payload, headers) to JetStream and waits for its ack."""

OUTBOX_PUBLISHED = Counter(
    "herald_outbox_published_total", "Outbox rows published to JetStream", ["path"]
)
OUTBOX_FAILURES = Counter("herald_outbox_publish_failures_total", "Outbox publishes that failed")
OUTBOX_OLDEST = Gauge(
    "herald_outbox_oldest_unsent_seconds", "Age of the oldest unsent outbox row seen by the relay"
)


def stage(session: AsyncSession, event: Event, envelope: Envelope) -> OutboxMessage:
    """Add ``envelope`` to the outbox inside the caller's transaction."""
    headers = {"Nats-Msg-Id": str(envelope.id), **current_trace_headers()}
    row = OutboxMessage(
        id=envelope.id, subject=event.subject, payload=envelope.to_json(), headers=headers
    )
    session.add(row)
    return row


class OutboxRelay:
    """Publishes committed outbox rows; safe to run in every replica at once."""

    def __init__(
        self, db: Database, publish: Publish, *, grace_s: float = 2.0, batch_size: int = 500
    ):
        self._db = db
        self._publish = publish
        self._grace = timedelta(seconds=grace_s)
        self._batch_size = batch_size

    async def send(self, rows: Sequence[OutboxMessage]) -> None:
        """Fast path: publish rows the caller just committed, then mark them sent.

        A failure here loses nothing: the rows stay unsent and the background loop retries.
        """
        if not rows:
            return
        try:
            await self._publish_all(rows)
        except Exception as error:  # the background loop owns the retry
            OUTBOX_FAILURES.inc()
            log.warning("outbox.fast_path_failed", error=str(error), rows=len(rows))
            return
        await self._mark_sent([row.id for row in rows])
        OUTBOX_PUBLISHED.labels("fast").inc(len(rows))

    async def drain_once(self, now: datetime | None = None, *, grace: bool = True) -> int:
        """Publish one batch of unsent rows older than the grace period; returns how many."""
        cutoff = (now or datetime.now(UTC)) - (self._grace if grace else timedelta(0))
        async with self._db.transaction() as session:
            rows = list(
                (
                    await session.scalars(
                        select(OutboxMessage)
                        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.created_at <= cutoff)
                        .order_by(OutboxMessage.created_at)
                        .limit(self._batch_size)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            if not rows:
                OUTBOX_OLDEST.set(0)
                return 0
            OUTBOX_OLDEST.set((datetime.now(UTC) - rows[0].created_at).total_seconds())
            await self._publish_all(rows)
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row.id for row in rows]))
                .values(sent_at=datetime.now(UTC))
            )
        OUTBOX_PUBLISHED.labels("background").inc(len(rows))
        return len(rows)

    async def drain(self, *, grace: bool = True) -> int:
        """Publish every unsent row (batch after batch); returns how many."""
        total = 0
        while count := await self.drain_once(grace=grace):
            total += count
        return total

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        """Background loop: catch rows whose fast path failed or whose process died."""
        while not stop.is_set():
            try:
                drained = await self.drain()
                if drained:
                    log.info("outbox.drained", rows=drained)
            except Exception as error:  # keep looping; nothing is lost, rows stay unsent
                OUTBOX_FAILURES.inc()
                log.warning("outbox.drain_failed", error=str(error))
            await sleep_unless_stopped(stop, interval_s)

    async def _publish_all(self, rows: Sequence[OutboxMessage]) -> None:
        await asyncio.gather(
            *(self._publish(row.subject, row.payload, dict(row.headers)) for row in rows)
        )

    async def _mark_sent(self, ids: list[object]) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(sent_at=datetime.now(UTC))
            )
