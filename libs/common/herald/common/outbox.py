"""The transactional outbox and its relay.

``stage`` adds an event to the session of the state change that causes it, so both commit
together. After the commit the caller hands the staged rows to ``OutboxRelay.send`` (the fast
path); the relay's background loop, and the recovery service, publish whatever is left. The
outbox id is the ``Nats-Msg-Id``, so a row published twice is stored once by JetStream.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import (
    BindParameter,
    Table,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.engine import Database
from herald.common.db.models import OutboxMessage
from herald.common.events.envelope import Envelope, Event
from herald.common.faults import fault_point
from herald.common.lingering import Lingering
from herald.common.pacing import sleep_unless_stopped
from herald.common.telemetry import current_trace_headers

log = structlog.get_logger(__name__)

Publish = Callable[[str, bytes, dict[str, str]], Awaitable[None]]
"""Publishes (subject, payload, headers) to JetStream and waits for its ack."""

OUTBOX_PUBLISHED = Counter(
    "herald_outbox_published_total", "Outbox rows published to JetStream", ["path"]
)
OUTBOX_FAILURES = Counter("herald_outbox_publish_failures_total", "Outbox publishes that failed")
OUTBOX_MARKS = Histogram(
    "herald_outbox_marks_per_statement",
    "Rows the fast path marked sent with one statement",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
OUTBOX_MARK_FAILURES = Counter(
    "herald_outbox_mark_failures_total",
    "Fast-path sent marks that failed (their rows are published again by the background relay)",
)
OUTBOX_OLDEST = Gauge(
    "herald_outbox_oldest_unsent_seconds",
    "Age of the oldest unsent outbox row (in flight, or waiting out a publish backoff), read "
    "by the background relay on each tick",
)


def stage(session: AsyncSession, event: Event, envelope: Envelope) -> OutboxMessage:
    """Add ``envelope`` to the outbox inside the caller's transaction."""
    row = message_of(event, envelope)
    session.add(row)
    return row


_OUTBOX = cast(Table, OutboxMessage.__table__)  # Core: no ORM objects to synchronize
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(sent_at=bindparam("now"), claimed_until=None)
)
"""Built once (building a statement costs more CPU than running it)."""
_DUE = (  # left unsent past the grace period, and claimed by no live relay
    _OUTBOX.c.sent_at.is_(None),
    _OUTBOX.c.created_at <= bindparam("cutoff"),
    or_(_OUTBOX.c.claimed_until.is_(None), _OUTBOX.c.claimed_until < bindparam("now")),
)
_PENDING = select(
    select(func.min(_OUTBOX.c.created_at)).where(_OUTBOX.c.sent_at.is_(None)).scalar_subquery(),
    exists().where(*_DUE),
)
"""Built once: the oldest unsent row's age (any: in flight, or waiting out a publish backoff)
and whether any is the background path's to claim now; both on the unsent rows' index."""


_STAGE = insert(_OUTBOX)


async def stage_now(session: AsyncSession, event: Event, envelope: Envelope) -> OutboxMessage:
    """``stage``, written at once by a prebuilt INSERT instead of at the session's flush: no
    unit of work to run (the hot paths' way; it still commits with the caller's change). The
    row returned is for ``OutboxRelay.send``; the session does not hold it."""
    (row,) = await stage_all_now(session, [(event, envelope)])
    return row


async def stage_all_now(
    session: AsyncSession, staged: Sequence[tuple[Event, Envelope]]
) -> list[OutboxMessage]:
    """``stage_now`` for several events, in one statement (their order kept: ids are UUIDv7)."""
    rows = [message_of(event, envelope) for event, envelope in staged]
    if rows:
        await session.execute(_STAGE, [columns_of(row) for row in rows])
    return rows


def message_of(event: Event, envelope: Envelope) -> OutboxMessage:
    """The outbox row of ``envelope`` (with the current trace), added to no session: for a
    statement of the caller's that writes it in its transaction."""
    headers = {"Nats-Msg-Id": str(envelope.id), **current_trace_headers()}
    return OutboxMessage(
        id=envelope.id,
        subject=event.subject_of(),
        payload=envelope.to_json(),
        headers=headers,
        publish_failures=0,
    )


TOLD = ("id", "subject", "payload", "headers")
"""The columns a statement writes of an outbox row (the rest are the table's defaults)."""


def columns_of(row: OutboxMessage) -> dict[str, object]:
    """What a statement writes of ``row`` (``TOLD``)."""
    return {"id": row.id, "subject": row.subject, "payload": row.payload, "headers": row.headers}


def told_binds(n: int) -> dict[str, BindParameter[Any]]:
    """The bind parameters of the ``n``-th outbox row a prebuilt statement writes, by column
    (named ``told<n>_<column>``, never a column's own name); ``told_params`` fills them."""
    return {name: bindparam(f"told{n}_{name}", type_=_OUTBOX.c[name].type) for name in TOLD}


def told_params(rows: Sequence[OutboxMessage], first: int = 0) -> dict[str, object]:
    """The values of ``told_binds`` for ``rows``, numbered from ``first``."""
    return {
        f"told{n}_{name}": value
        for n, row in enumerate(rows, first)
        for name, value in columns_of(row).items()
    }


def retry_backoff(failures: int, *, base_s: float = 1.0, cap_s: float = 300.0) -> float:
    """How long a row that failed to publish ``failures`` times is left alone (pure)."""
    return float(min(cap_s, base_s * 2 ** min(max(0, failures - 1), 32)))


class OutboxRelay:
    """Publishes committed outbox rows; safe to run in every replica at once.

    Nothing is published inside an open transaction: the background path first claims a batch
    (``claimed_until``, committed), then publishes, then records the result. Rows are published
    one by one concurrently, so one row that cannot be published never holds back the others;
    it is retried with a growing backoff and its failures are counted.
    """

    def __init__(
        self,
        db: Database,
        publish: Publish,
        *,
        grace_s: float = 2.0,
        batch_size: int = 500,
        claim_s: float = 30.0,
        fast_timeout_s: float = 2.0,
        mark_linger_s: float = 0.1,
    ):
        self._db = db
        self._publish = publish
        self._grace = timedelta(seconds=grace_s)
        self._batch_size = batch_size
        self._claim = timedelta(seconds=claim_s)
        self._fast_timeout_s = fast_timeout_s
        # the fast path's sent marks: gathered for up to mark_linger_s, one UPDATE per group,
        # off the caller's path (about half of the pipeline's commits were marks of one job's
        # rows); a mark lost to a crash costs a republish, which JetStream deduplicates
        self._marks = Lingering(self._mark_sent_quietly, linger_s=mark_linger_s)

    async def send(self, rows: Sequence[OutboxMessage]) -> None:
        """Fast path: publish rows the caller just committed; returns once JetStream holds
        them. Their sent marks follow within ``mark_linger_s``, with other callers' marks.

        Never raises: whatever fails here stays unsent for the background loop, so a caller's
        committed work is never reported as failed because JetStream was slow or away. The
        background loop leaves rows alone for ``grace_s``; a row it takes whose fast path was
        slow or whose mark still lingers goes out twice, and JetStream keeps one.
        """
        if not rows:
            return
        try:
            results = await asyncio.wait_for(self._publish_each(rows), self._fast_timeout_s)
            fault_point("relay.after_publish")
            sent = [row.id for row, error in zip(rows, results, strict=True) if error is None]
        except Exception as error:  # the rows stay unsent: the background loop owns the retry
            OUTBOX_FAILURES.inc()
            log.warning("outbox.fast_path_failed", error=repr(error), rows=len(rows))
            return
        self._marks.add(sent)
        OUTBOX_PUBLISHED.labels("fast").inc(len(sent))

    async def flush_marks(self) -> None:
        """Write the fast path's lingering sent marks now (a stopping service; tests)."""
        await self._marks.flush()

    async def drain_once(self, now: datetime | None = None, *, grace: bool = True) -> int:
        """Claim, publish and settle one batch of unsent rows; returns how many were sent."""
        now = now or datetime.now(UTC)
        rows = await self._claim_batch(now, grace)
        if not rows:
            return 0
        results = await self._publish_each(rows)
        sent = [row.id for row, error in zip(rows, results, strict=True) if error is None]
        failed = [(row, e) for row, e in zip(rows, results, strict=True) if e is not None]
        await self._mark_sent(sent)
        await self._record_failures(failed, now)
        OUTBOX_PUBLISHED.labels("background").inc(len(sent))
        return len(sent)

    async def drain(self, *, grace: bool = True) -> int:
        """Publish every unsent row that can be published now; returns how many. One read
        first: it sets ``herald_outbox_oldest_unsent_seconds``, and when no row is due (nearly
        every tick: the fast path sent them) nothing is claimed."""
        now = datetime.now(UTC)
        async with self._db.autocommit() as connection:
            params = {"cutoff": self._cutoff(now, grace), "now": now}
            oldest, due = (await connection.execute(_PENDING, params)).one()
        OUTBOX_OLDEST.set((now - oldest).total_seconds() if oldest is not None else 0.0)
        if not due:
            return 0
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
                log.warning("outbox.drain_failed", error=repr(error))
            await sleep_unless_stopped(stop, interval_s)
        await self.flush_marks()

    def _cutoff(self, now: datetime, grace: bool) -> datetime:
        """Rows created at or before this are the background path's (pure)."""
        return now - (self._grace if grace else timedelta(0))

    async def _claim_batch(self, now: datetime, grace: bool) -> list[OutboxMessage]:
        candidates = (
            select(_OUTBOX.c.id)
            .where(*_DUE)
            .order_by(_OUTBOX.c.created_at, _OUTBOX.c.id)
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
        )
        async with self._db.transaction() as session:
            claimed = await session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(candidates.scalar_subquery()))
                .values(claimed_until=now + self._claim)
                .returning(OutboxMessage),
                {"cutoff": self._cutoff(now, grace), "now": now},
            )
            # rows of one transaction share created_at; their UUIDv7 ids keep the staging
            # order, which live updates rely on (a job's queued before its publish request)
            return sorted(claimed.all(), key=lambda row: (row.created_at, row.id))

    async def _publish_each(self, rows: Sequence[OutboxMessage]) -> list[BaseException | None]:
        async def one(row: OutboxMessage) -> BaseException | None:
            try:
                await self._publish(row.subject, row.payload, dict(row.headers))
            except Exception as error:  # reported per row to the caller
                return error
            return None

        return list(await asyncio.gather(*(one(row) for row in rows)))

    async def _mark_sent(self, ids: list[uuid.UUID]) -> None:
        if not ids:
            return
        async with self._db.autocommit() as connection:  # one statement: atomic on its own
            await connection.execute(_MARK_SENT, {"ids": ids, "now": datetime.now(UTC)})

    async def _mark_sent_quietly(self, ids: list[uuid.UUID]) -> None:
        try:
            await self._mark_sent(ids)
        except Exception as error:  # the rows go out again from the background loop
            OUTBOX_MARK_FAILURES.inc()
            log.warning("outbox.mark_failed", rows=len(ids), error=repr(error))
            return
        OUTBOX_MARKS.observe(len(ids))

    async def _record_failures(
        self, failed: list[tuple[OutboxMessage, BaseException]], now: datetime
    ) -> None:
        if not failed:
            return
        OUTBOX_FAILURES.inc(len(failed))
        async with self._db.transaction() as session:
            for row, error in failed:
                failures = row.publish_failures + 1
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(
                        publish_failures=failures,
                        last_error=repr(error)[:1000],
                        claimed_until=now + timedelta(seconds=retry_backoff(failures)),
                    )
                )
                log.warning(
                    "outbox.publish_failed",
                    outbox_id=str(row.id),
                    subject=row.subject,
                    failures=failures,
                    error=repr(error),
                )
