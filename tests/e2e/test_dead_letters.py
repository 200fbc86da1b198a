"""Messages JetStream gives up on become failed jobs and alerts — never silently dropped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import nats
from sqlalchemy import select

from herald.common.db.engine import Database
from herald.common.db.models import Alert
from herald.common.events import Envelope, PublishRequested
from tests.e2e.conftest import System, Tenant, eventually, insert_queued_job, make_channel


async def _dead_letters(system: System, event: str) -> float:
    prefix = f'herald_dead_letters_total{{event="{event}",kind="terminated",stream="PUBLISH"}} '
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{system.fleet['recovery'].spec.base_url}/metrics")).text
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


async def test_a_request_of_an_unknown_schema_fails_its_job_and_raises_an_alert(
    api: httpx.AsyncClient, tenant: Tenant, system: System, e2e_db: Database
) -> None:
    channel = await make_channel(api, tenant, f"poison-{uuid.uuid4().hex[:6]}")
    asset = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "t", "body": "b", "channel_ids": [channel]},
    )
    now = datetime.now(UTC)
    # as if approved, its request still to come
    job = await insert_queued_job(e2e_db, tenant, asset.json()["id"], channel, now)
    command = PublishRequested(job_id=job.id)
    envelope = Envelope.wrap(command, tenant_id=uuid.UUID(tenant.id), subject_id=job.id, now=now)
    future = envelope.model_copy(update={"schema_version": 99})  # written by a newer Herald
    client = await nats.connect(system.nats_url)
    await client.jetstream().publish(command.subject_of(), future.to_json())
    await client.drain()

    async def failed() -> bool:
        body = (await api.get(f"/v1/jobs/{job.id}", headers=tenant.auth)).json()
        return bool(body["status"] == "failed")

    await eventually(failed, timeout=30)
    body = (await api.get(f"/v1/jobs/{job.id}", headers=tenant.auth)).json()
    assert body["last_error_code"] == "dead_letter_terminated"

    async def alerted() -> Alert | None:
        async with e2e_db.transaction() as session:
            return await session.scalar(
                select(Alert).where(Alert.dedup_key == f"publish_failed:{channel}")
            )

    await eventually(alerted, timeout=30)


async def test_an_unreadable_message_is_counted_and_logged(system: System) -> None:
    before = await _dead_letters(system, "unreadable")
    client = await nats.connect(system.nats_url)
    await client.jetstream().publish(f"{PublishRequested.subject}.normal", b"\x00 not json")
    await client.drain()

    async def counted() -> bool:
        return await _dead_letters(system, "unreadable") >= before + 1

    await eventually(counted, timeout=30)
