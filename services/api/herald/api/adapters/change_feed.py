"""One tenant's live changes from the CHANGES stream, for one ``GET /v1/events`` connection.

Each feed is an ordered consumer (ephemeral, in memory, flow-controlled, no acks; nats-py
recreates it from the last sequence it saw when it detects a gap) filtered by the server on
``herald.changes.<tenant>.>`` and started at a stream sequence. ``ChangeFeeds`` bounds how
many are open in this process.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from herald.api.domain.event_stream import ResumePoint, resume_point
from herald.common.events import Envelope
from herald.common.events.changes import tenant_changes
from herald.common.streams import CHANGES

log = structlog.get_logger(__name__)

INACTIVE_THRESHOLD_S = 10.0
"""The server drops a feed's consumer this long after its API process vanished."""


@dataclass(frozen=True)
class Change:
    """One message of the tenant's slice: its stream sequence and what it says."""

    sequence: int
    type: str
    occurred_at: datetime
    data: dict[str, Any]


class StreamsExhausted(Exception):
    """This process already serves as many streams as it may."""


class ChangeFeed:
    """Changes in stream order from a start sequence; ``close`` deletes the consumer."""

    def __init__(self, js: JetStreamContext, subscription: JetStreamContext.PushSubscription):
        self._js, self._subscription = js, subscription
        self._last = 0  # a consumer nats-py recreated may repeat what we passed on
        self._closed = False

    async def next(self, wait_s: float) -> Change | None:
        """The next change, or None when none came within ``wait_s`` seconds."""
        while True:
            try:
                message = await self._subscription.next_msg(timeout=wait_s)
            except nats.errors.TimeoutError:
                return None
            sequence = message.metadata.sequence.stream
            if sequence <= self._last:
                continue
            self._last = sequence
            try:
                envelope = Envelope.model_validate_json(message.data)
            except ValidationError:  # not ours to read: skipped, never fatal to the stream
                log.warning("sse.unreadable_change", sequence=sequence, subject=message.subject)
                continue
            return Change(sequence, envelope.type, envelope.occurred_at, envelope.data)

    async def close(self) -> None:
        """Stop the subscription and delete its consumer (idempotent; never raises)."""
        if self._closed:
            return
        self._closed = True
        # nats-py keeps the current consumer's name there: it changes when the feed resets
        consumer = self._subscription._consumer
        with contextlib.suppress(Exception):  # the connection may be gone: the server reaps it
            await self._subscription.unsubscribe()
        with contextlib.suppress(Exception):
            await self._js.delete_consumer(CHANGES.name, consumer)


class ChangeFeeds:
    """Opens feeds on this process's NATS connection, at most ``limit`` at once."""

    def __init__(self, jetstream: Callable[[], JetStreamContext], limit: int):
        self._jetstream, self.limit, self.open_count = jetstream, limit, 0

    def reserve(self) -> None:
        """Take a slot for a new stream, or raise ``StreamsExhausted``."""
        if self.open_count >= self.limit:
            raise StreamsExhausted
        self.open_count += 1

    def release(self) -> None:
        self.open_count = max(0, self.open_count - 1)

    async def position(self, after: int | None) -> ResumePoint:
        """Where a stream that last saw ``after`` starts, by the stream's current bounds."""
        state = (await self._jetstream().stream_info(CHANGES.name)).state
        return resume_point(after, state.first_seq, state.last_seq)

    async def open(self, tenant_id: uuid.UUID, start: int) -> ChangeFeed:
        """The tenant's changes from stream sequence ``start`` on."""
        js = self._jetstream()
        subscription = await js.subscribe(
            tenant_changes(tenant_id),
            stream=CHANGES.name,
            ordered_consumer=True,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start
            ),
            inactive_threshold=INACTIVE_THRESHOLD_S,
        )
        return ChangeFeed(js, subscription)
