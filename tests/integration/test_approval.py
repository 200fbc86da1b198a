"""The approval against real PostgreSQL, under row security: the asset and its channels read in
one statement, the asset's update, its jobs, its outbox rows and its audit row written in one
more."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from herald.api.service_layer import assets
from herald.api.service_layer.errors import Refused
from herald.common.db.engine import Database
from herald.common.db.models import Asset, AuditEvent, Channel, OutboxMessage, PublishJob, Tenant
from herald.common.ids import new_id
from tests.integration.conftest import recorded_statements


async def _tenant_with_channels(
    db: Database, platforms: list[str]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    tenant, channels = new_id(), [new_id() for _ in platforms]
    async with db.transaction() as session:
        session.add(Tenant(id=tenant, name="approvals"))
        await session.flush()
        for channel, platform in zip(channels, platforms, strict=True):
            config = {"account": f"acct-{channel.hex[:8]}"}
            session.add(
                Channel(id=channel, tenant_id=tenant, platform=platform, name="c", config=config)
            )
    return tenant, channels


async def _asset(
    db: Database,
    tenant: uuid.UUID,
    channels: list[uuid.UUID],
    scheduled_for: datetime | None = None,
) -> uuid.UUID:
    asset = new_id()
    async with db.transaction() as session:
        session.add(
            Asset(
                id=asset,
                tenant_id=tenant,
                title="t",
                body="b",
                media=[],
                channel_ids=channels,
                status="submitted",
                scheduled_for=scheduled_for,
            )
        )
    return asset


async def _written(
    db: Database, asset_id: uuid.UUID
) -> tuple[Asset | None, Sequence[PublishJob], Sequence[AuditEvent]]:
    """The asset as stored, its jobs and its audit rows."""
    async with db.transaction() as session:
        asset = await session.get(Asset, asset_id)
        jobs = (
            await session.scalars(select(PublishJob).where(PublishJob.asset_id == asset_id))
        ).all()
        audited = (
            await session.scalars(select(AuditEvent).where(AuditEvent.subject_id == asset_id))
        ).all()
    return asset, jobs, audited


async def test_an_approval_reads_once_and_writes_once(db: Database) -> None:
    tenant, channels = await _tenant_with_channels(db, ["sandbox", "mastodon"])
    asset_id = await _asset(db, tenant, channels)
    now = datetime.now(UTC)

    async with db.transaction(tenant) as session:
        with recorded_statements(db) as statements:
            view = await assets.approve(session, tenant, asset_id, now)

    assert len(statements) == 2, statements
    assert statements[0].lstrip().startswith("SELECT") and "FOR UPDATE OF assets" in statements[0]
    assert statements[1].lstrip().startswith("WITH jobs AS")
    asset, jobs, audited = await _written(db, asset_id)
    async with db.transaction() as session:
        told = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in view.staged]))
            )
        ).all()
    assert asset is not None and asset.status == "approved" and asset.version == 2
    assert asset.approved_at == now
    assert {(j.channel_id, j.platform, j.status) for j in jobs} == {
        (channels[0], "sandbox", "queued"),
        (channels[1], "mastodon", "queued"),
    }
    assert {j.id for j in jobs} == {j.id for j in view.jobs}
    assert all(j.attempts == 0 and j.version == 1 and j.requested_at == now for j in jobs)
    # asset.approved, a live update per job, a request per queued job: written, in order
    subjects = [row.subject for row in sorted(told, key=lambda row: row.id)]
    assert subjects[0] == "herald.assets.approved"
    assert subjects[1:3] == [f"herald.changes.{tenant}.jobs"] * 2
    assert subjects[3:] == ["herald.publish.requested.normal"] * 2
    assert [row.id for row in view.staged] == sorted(row.id for row in told)
    assert [(a.action, a.actor, a.subject_id, a.details) for a in audited] == [
        ("asset.approved", "operator", asset_id, {"jobs": 2})
    ]


async def test_a_scheduled_approval_writes_no_request(db: Database) -> None:
    tenant, channels = await _tenant_with_channels(db, ["sandbox"])
    later = datetime.now(UTC) + timedelta(hours=1)
    asset_id = await _asset(db, tenant, channels, scheduled_for=later)

    async with db.transaction(tenant) as session:
        view = await assets.approve(session, tenant, asset_id, datetime.now(UTC))

    async with db.transaction() as session:
        (job,) = (
            await session.scalars(select(PublishJob).where(PublishJob.asset_id == asset_id))
        ).all()
    assert job.status == "scheduled" and job.scheduled_for == later and job.requested_at is None
    assert len(view.staged) == 2, "asset.approved and the job's live update; no request yet"


async def test_another_tenants_channel_is_not_read_and_the_approval_writes_nothing(
    db: Database,
) -> None:
    tenant, (own,) = await _tenant_with_channels(db, ["sandbox"])
    _, (theirs,) = await _tenant_with_channels(db, ["sandbox"])
    asset_id = await _asset(db, tenant, [own, theirs])

    with pytest.raises(Refused) as refused:
        async with db.transaction(tenant) as session:
            await assets.approve(session, tenant, asset_id, datetime.now(UTC))

    assert refused.value.code == "asset_not_approvable"
    assert str(theirs) in str(refused.value.detail)
    asset, jobs, audited = await _written(db, asset_id)
    assert asset is not None and asset.status == "submitted" and jobs == [] and audited == []
