"""``GET /v1/events``: the tenant's job and alert changes as Server-Sent Events, resumable.

Every event's ``id`` is its sequence in the CHANGES stream; a client that reconnects with
``Last-Event-ID`` (or ``?last_event_id=``) gets everything after it that the stream still keeps,
and an ``event: reset`` first when that is not everything it missed. The first event,
``ready``, carries the id a client resumes from even when nothing has happened yet.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
import nats.errors
import structlog
from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse
from nats.js.errors import Error as JetStreamError
from opentelemetry import trace
from prometheus_client import Counter, Gauge
from starlette.types import Receive, Scope, Send

from herald.api import examples
from herald.api.adapters.change_feed import ChangeFeed, ChangeFeeds, StreamsExhausted
from herald.api.auth import State, Who
from herald.api.domain.event_stream import (
    InvalidEventId,
    ResumePoint,
    comment,
    frame,
    parse_last_event_id,
)
from herald.api.problems import Problem, problem_response

router = APIRouter(prefix="/v1/events", tags=["events"])
log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)

SSE_CONNECTIONS = Gauge("herald_sse_connections", "Open GET /v1/events streams")
SSE_EVENTS = Counter("herald_sse_events_sent_total", "Events sent on SSE streams", ["event"])
SSE_REFUSED = Counter("herald_sse_refused_total", "SSE streams refused", ["reason"])
RETRY_AFTER_S = 5
CLOSE_TIMEOUT_S = 2.0

STREAM_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "an endless text/event-stream: `ready`, then `job.changed` and "
        "`alert.changed` events (and `reset` when what was missed is no longer kept)",
        "content": {
            "text/event-stream": {"schema": {"type": "string"}, "example": examples.EVENT_STREAM}
        },
    },
    400: {"description": "Last-Event-ID is not an event id (`invalid_last_event_id`)"},
    503: {"description": "too many open streams, or NATS unreachable; see Retry-After"},
}


class LiveStream:
    """One open connection: its feed, its slot, and what it sent (closed exactly once)."""

    def __init__(self, feeds: ChangeFeeds, feed: ChangeFeed, tenant_id: uuid.UUID):
        self.feeds, self.feed, self.tenant_id = feeds, feed, tenant_id
        self.sent, self.opened = 0, time.monotonic()
        self._closed = False
        SSE_CONNECTIONS.inc()

    async def frames(
        self, point: ResumePoint, after: int | None, keepalive_s: float
    ) -> AsyncIterator[bytes]:
        try:
            if point.reset:
                yield self._count(
                    "reset", {"requested_after": after, "resumed_after": point.last_event_id}
                )
            yield frame(
                event="ready",
                event_id=point.last_event_id,
                data={"last_event_id": point.last_event_id},
            )
            while True:
                change = await self.feed.next(keepalive_s)
                if change is None:
                    yield comment("keep-alive")
                    continue
                data = {**change.data, "occurred_at": change.occurred_at.isoformat()}
                yield self._count(change.type, data, change.sequence)
        finally:
            with anyio.CancelScope(shield=True):  # the client is gone: still clean up
                await self.close()

    def _count(self, event: str, data: object, event_id: int | None = None) -> bytes:
        self.sent += 1
        SSE_EVENTS.labels(event).inc()
        return frame(event=event, data=data, event_id=event_id)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.move_on_after(CLOSE_TIMEOUT_S):
            await self.feed.close()
        self.feeds.release()
        SSE_CONNECTIONS.dec()
        log.info(
            "sse.disconnected",
            tenant_id=str(self.tenant_id),
            events=self.sent,
            duration_s=round(time.monotonic() - self.opened, 3),
        )


@router.get("", response_class=StreamingResponse, responses=STREAM_RESPONSES)
async def stream_events(
    who: Who,
    state: State,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[
        str | None, Query(description="for clients that cannot send Last-Event-ID")
    ] = None,
) -> Response:
    """The tenant's changes, from now or from after ``Last-Event-ID``; any key may read."""
    try:  # the header wins: a browser's EventSource sends it on reconnect, with the old URL
        after = parse_last_event_id(last_event_id_header or last_event_id)
    except InvalidEventId as error:
        raise Problem(
            400, "invalid_last_event_id", "Last-Event-ID is not valid", str(error)
        ) from None
    feeds = state.changes
    try:
        feeds.reserve()
    except StreamsExhausted:
        SSE_REFUSED.labels("too_many_streams").inc()
        return _unavailable("too_many_streams", f"this API process serves {feeds.limit} streams")
    try:
        with tracer.start_as_current_span(
            "sse.connect", attributes={"herald.tenant_id": str(who.tenant_id)}
        ):
            point = await feeds.position(after)
            feed = await feeds.open(who.tenant_id, point.start)
    except (nats.errors.Error, JetStreamError, ConnectionError) as error:
        feeds.release()
        SSE_REFUSED.labels("nats_unavailable").inc()
        log.warning("sse.open_failed", error=repr(error))
        return _unavailable("live_updates_unavailable", "the event stream cannot be read now")
    stream = LiveStream(feeds, feed, who.tenant_id)
    log.info(
        "sse.connected",
        tenant_id=str(who.tenant_id),
        key_id=str(who.key_id),
        after=after,
        start=point.start,
        reset=point.reset,
    )
    return _LiveResponse(
        stream,
        stream.frames(point, after, state.settings.sse_keepalive_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class _LiveResponse(StreamingResponse):
    """Closes its stream however the response ends: a client that hangs up before the body
    starts cancels the response before the generator's own ``finally`` could run."""

    def __init__(self, stream: LiveStream, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._stream.close()


def _unavailable(code: str, detail: str) -> Response:
    response = problem_response(503, code, "Live updates are unavailable; retry shortly", detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
