"""GET /v1/events through the running fleet: a client connected before approval sees every job
go queued → processing → succeeded, another tenant sees none of it, and a client that
reconnects with Last-Event-ID misses nothing and gets nothing twice; an alert is followed from
raised through acknowledged to resolved."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import httpx
import nats
from httpx_sse import ServerSentEvent, aconnect_sse

from herald.common.streams import CHANGES
from tests.e2e.conftest import OPERATOR_TOKEN, System, Tenant, eventually, make_channel

STREAM_TIMEOUT = httpx.Timeout(30, read=60)  # an idle stream sends a keep-alive every 15 s


class Listener:
    """One SSE connection read in the background; ``stop_after`` job changes, it hangs up."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        *,
        last_event_id: str | None = None,
        stop_after: int | None = None,
    ):
        self.client, self.tenant = client, tenant
        self.last_event_id, self.stop_after = last_event_id, stop_after
        self.events: list[ServerSentEvent] = []
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(self._listen())

    @property
    def changes(self) -> list[ServerSentEvent]:
        return [e for e in self.events if e.event == "job.changed"]

    @property
    def alerts(self) -> list[ServerSentEvent]:
        return [e for e in self.events if e.event == "alert.changed"]

    async def _listen(self) -> None:
        headers = dict(self.tenant.auth)
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        async with aconnect_sse(self.client, "GET", "/v1/events", headers=headers) as source:
            assert source.response.status_code == 200, await source.response.aread()
            assert source.response.headers["content-type"].startswith("text/event-stream")
            async for event in source.aiter_sse():
                self.events.append(event)
                if event.event == "ready":
                    self.ready.set()
                if self.stop_after is not None and len(self.changes) >= self.stop_after:
                    return

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def _listening(*listeners: Listener) -> AsyncIterator[None]:
    try:
        await asyncio.wait_for(asyncio.gather(*(lst.ready.wait() for lst in listeners)), 30)
        yield
    finally:
        for listener in listeners:
            await listener.close()


async def _other_tenant(api: httpx.AsyncClient) -> Tenant:
    response = await api.post(
        "/v1/tenants", json={"name": "other"}, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    body = response.json()
    return Tenant(body["tenant"]["id"], body["api_key"])


def _by_job(events: list[ServerSentEvent]) -> dict[str, list[str]]:
    statuses: dict[str, list[str]] = defaultdict(list)
    for event in events:
        data = event.json()
        statuses[data["job_id"]].append(data["status"])
    return dict(statuses)


async def _consumers(system: System) -> int:
    client = await nats.connect(system.nats_url)
    try:
        return (await client.jetstream().stream_info(CHANGES.name)).state.consumer_count
    finally:
        await client.close()


async def test_live_updates_follow_every_job_and_resume_without_gaps(
    api: httpx.AsyncClient, tenant: Tenant, system: System
) -> None:
    other = await _other_tenant(api)
    channels = [await make_channel(api, tenant, f"live-{uuid.uuid4().hex[:6]}") for _ in range(3)]
    created = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "Live", "body": "b", "channel_ids": channels},
    )
    consumers_before = await _consumers(system)
    async with httpx.AsyncClient(base_url=system.api_url, timeout=STREAM_TIMEOUT) as client:
        full, part, theirs = (
            Listener(client, tenant),
            Listener(client, tenant, stop_after=2),
            Listener(client, other),
        )
        async with _listening(full, part, theirs):
            approved = await api.post(
                f"/v1/assets/{created.json()['id']}/approve", headers=tenant.auth
            )
            assert approved.status_code == 200, approved.text
            job_ids = {job["id"] for job in approved.json()["jobs"]}
            assert len(job_ids) == 3

            async def all_succeeded() -> dict[str, list[str]]:
                seen = _by_job(full.changes)
                done = set(seen) == job_ids and all(s[-1] == "succeeded" for s in seen.values())
                return seen if done else {}

            await eventually(all_succeeded, timeout=60)
            await asyncio.wait_for(part.task, 10)  # it hung up after its first two changes
            resumed = Listener(client, tenant, last_event_id=part.changes[-1].id)
            async with _listening(resumed):

                async def caught_up() -> bool:
                    return len(part.changes) + len(resumed.changes) >= len(full.changes)

                await eventually(caught_up, timeout=30)
                await asyncio.sleep(0.5)  # time for a duplicate or a stray event to show
            await asyncio.sleep(0.5)

    print(f"\nfigure: {len(part.changes)} changes, hang-up, {len(resumed.changes)} on resuming")
    assert _by_job(full.changes) == {job: ["queued", "processing", "succeeded"] for job in job_ids}
    ids = [int(e.id) for e in full.changes]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "ids are stream sequences"
    assert [e.id for e in part.changes + resumed.changes] == [e.id for e in full.changes]
    assert [e.data for e in part.changes + resumed.changes] == [e.data for e in full.changes]
    assert [e.event for e in resumed.events[:1]] == ["ready"]
    assert resumed.events[0].id == part.changes[-1].id
    assert [e.event for e in theirs.events] == ["ready"], "another tenant sees none of it"
    for event in full.changes:
        data = event.json()
        assert data["tenant_id"] == tenant.id and data["platform"] == "sandbox"
        assert {"asset_id", "channel_id", "attempts", "occurred_at"} <= set(data)

    async def cleaned_up() -> bool:
        """Every stream closed: its consumer deleted, then its gauge down (in that order)."""
        metrics = (await api.get("/metrics")).text
        closed = re.search(r"^herald_sse_connections 0\.0$", metrics, re.M) is not None
        return closed and await _consumers(system) <= consumers_before

    await eventually(cleaned_up, timeout=15)
    metrics = (await api.get("/metrics")).text
    assert re.search(r'^herald_sse_events_sent_total\{event="job.changed"\} [1-9]', metrics, re.M)


async def test_an_invalid_last_event_id_is_a_400_problem(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    for headers, params in (
        ({"Last-Event-ID": "not-a-number"}, {}),
        ({}, {"last_event_id": "-1"}),
        ({"Last-Event-ID": "1" * 25}, {}),
    ):
        response = await api.get("/v1/events", headers={**tenant.auth, **headers}, params=params)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_last_event_id"
    assert (await api.get("/v1/events")).status_code == 401


async def test_an_id_the_stream_no_longer_holds_starts_with_a_reset(
    tenant: Tenant, system: System
) -> None:
    async with httpx.AsyncClient(base_url=system.api_url, timeout=STREAM_TIMEOUT) as client:
        listener = Listener(client, tenant, last_event_id=str(2**64 - 1))
        async with _listening(listener):
            pass
    reset, ready = listener.events[:2]
    assert reset.event == "reset"
    assert reset.json()["requested_after"] == 2**64 - 1
    assert ready.event == "ready" and ready.id == str(reset.json()["resumed_after"])


async def test_live_updates_follow_an_alert_from_raised_to_resolved(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, system: System
) -> None:
    account = f"alerting-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await sandbox.post("/faults", json={"account": account, "responses": [{"status": 400}]})
    other = await _other_tenant(api)
    async with httpx.AsyncClient(base_url=system.api_url, timeout=STREAM_TIMEOUT) as client:
        listener, theirs = Listener(client, tenant), Listener(client, other)
        async with _listening(listener, theirs):
            asset = await api.post(
                "/v1/assets",
                headers=tenant.auth,
                json={"title": "Refused", "body": "b", "channel_ids": [channel]},
            )
            await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)

            async def raised() -> str | None:
                seen = [e.json()["alert"] for e in listener.alerts]
                return next((a["id"] for a in seen if a["channel_id"] == channel), None)

            await eventually(raised, timeout=60)
            alert = await raised()
            for action in ("acknowledge", "resolve"):
                done = await api.post(f"/v1/alerts/{alert}/{action}", headers=tenant.auth)
                assert done.status_code == 200, done.text

            async def resolved() -> bool:
                return any(e.json()["change"] == "resolved" for e in listener.alerts)

            await eventually(resolved, timeout=30)
            await asyncio.sleep(0.5)  # time for a duplicate to show
    mine = [e.json() for e in listener.alerts if e.json()["alert"]["id"] == alert]
    assert [(m["change"], m["alert"]["status"]) for m in mine] == [
        ("raised", "active"),
        ("acknowledged", "acknowledged"),
        ("resolved", "resolved"),
    ]
    assert {m["tenant_id"] for m in mine} == {tenant.id}
    assert mine[0]["alert"]["category"] == "publish_failed"
    assert [e.event for e in theirs.events] == ["ready"], "another tenant sees none of it"
