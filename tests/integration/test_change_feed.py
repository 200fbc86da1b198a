"""The API's change feeds against a real nats-server: a tenant's slice of CHANGES, in order,
resumable from a sequence, bounded in number, and leaving no consumer behind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from nats.js import JetStreamContext

from herald.api.adapters.change_feed import Change, ChangeFeed, ChangeFeeds, StreamsExhausted
from herald.common.events import Envelope, JobChanged
from herald.common.streams import CHANGES


async def _publish(js: JetStreamContext, tenant_id: uuid.UUID, status: str) -> int:
    change = JobChanged(
        tenant_id=tenant_id,
        job_id=uuid.uuid4(),
        asset_id=uuid.uuid4(),
        channel_id=uuid.uuid4(),
        platform="sandbox",
        status=status,
    )
    envelope = Envelope.wrap(
        change, tenant_id=tenant_id, subject_id=change.job_id, now=datetime.now(UTC)
    )
    ack = await js.publish(
        change.subject_of(), envelope.to_json(), headers={"Nats-Msg-Id": str(envelope.id)}
    )
    return ack.seq


async def _drain(feed: ChangeFeed) -> list[Change]:
    changes = []
    while (change := await feed.next(0.5)) is not None:
        changes.append(change)
    return changes


async def _consumers(js: JetStreamContext) -> int:
    return (await js.stream_info(CHANGES.name)).state.consumer_count


async def test_a_feed_reads_its_tenant_in_order_and_resumes_after_a_sequence(
    js: JetStreamContext,
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    feeds = ChangeFeeds(lambda: js, limit=5)
    point = await feeds.position(None)
    before = await _consumers(js)
    feed = await feeds.open(mine, point.start)
    assert await _consumers(js) == before + 1
    sequences = []
    for status in ("queued", "processing", "succeeded"):
        sequences.append(await _publish(js, mine, status))
        await _publish(js, theirs, status)
    seen = await _drain(feed)
    assert [c.sequence for c in seen] == sequences
    assert [c.data["status"] for c in seen] == ["queued", "processing", "succeeded"]
    assert {c.type for c in seen} == {"job.changed"}
    assert all(c.data["tenant_id"] == str(mine) for c in seen)
    await feed.close()
    await feed.close()  # idempotent
    assert await _consumers(js) == before

    again = await feeds.position(sequences[0])
    assert (again.start, again.reset) == (sequences[0] + 1, False)
    resumed = await feeds.open(mine, again.start)
    assert [c.sequence for c in await _drain(resumed)] == sequences[1:]
    await resumed.close()


async def test_a_process_opens_at_most_its_limit(js: JetStreamContext) -> None:
    feeds = ChangeFeeds(lambda: js, limit=2)
    feeds.reserve()
    feeds.reserve()
    with pytest.raises(StreamsExhausted):
        feeds.reserve()
    feeds.release()
    feeds.reserve()
    assert feeds.open_count == 2
