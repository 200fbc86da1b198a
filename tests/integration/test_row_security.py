"""Row-level security: a tenant transaction sees and writes only its tenant's rows, even when a
query forgets its ``tenant_id`` filter; the services' own transactions are not restricted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, ProgrammingError

from herald.common.db.engine import Database
from herald.common.db.models import Asset, Channel, PublishJob, Tenant
from herald.common.ids import new_id
from herald.common.settings import HeraldSettings
from tests.integration.conftest import JobRows, add_job_rows


@pytest.fixture
async def other(db: Database, settings: HeraldSettings) -> JobRows:
    return await add_job_rows(db, settings.credential_keys)


async def test_an_unfiltered_read_sees_only_the_tenants_rows(
    db: Database, job_rows: JobRows, other: JobRows
) -> None:
    async with db.transaction(job_rows.tenant_id) as session:
        for model in (Tenant, Channel, Asset, PublishJob):
            tenants = set(await session.scalars(select(getattr(model, "tenant_id", model.id))))
            assert tenants == {job_rows.tenant_id}, model.__tablename__
    async with db.transaction() as session:  # the services' transactions see every tenant
        jobs = set(await session.scalars(select(PublishJob.tenant_id)))
    assert {job_rows.tenant_id, other.tenant_id} <= jobs


async def test_an_unfiltered_update_changes_only_the_tenants_rows(
    db: Database, job_rows: JobRows, other: JobRows
) -> None:
    async with db.transaction(job_rows.tenant_id) as session:
        await session.execute(update(Asset).values(title="changed"))
    async with db.transaction() as session:
        mine = await session.scalar(select(Asset.title).where(Asset.id == job_rows.asset_id))
        theirs = await session.scalar(select(Asset.title).where(Asset.id == other.asset_id))
    assert (mine, theirs) == ("changed", "t")


async def test_writing_a_row_of_another_tenant_is_refused(
    db: Database, job_rows: JobRows, other: JobRows
) -> None:
    with pytest.raises(ProgrammingError, match="row-level security"):
        async with db.transaction(job_rows.tenant_id) as session:
            session.add(
                Channel(
                    id=new_id(), tenant_id=other.tenant_id, platform="sandbox", name="x", config={}
                )
            )
    async with db.transaction() as session:
        count = await session.scalar(
            select(func.count()).select_from(Channel).where(Channel.tenant_id == other.tenant_id)
        )
    assert count == 1


async def test_the_tenant_role_without_a_tenant_fails_closed(db: Database) -> None:
    async def count_assets() -> int | None:
        async with db.transaction() as session:
            await session.execute(text("SET LOCAL ROLE herald_tenant"))
            return await session.scalar(select(func.count()).select_from(Asset))

    # Never set on this connection: unknown; set by an earlier transaction: '' (not a uuid).
    with pytest.raises(DBAPIError, match=r"herald\.tenant_id|invalid input syntax for type uuid"):
        await count_assets()


async def test_the_tenant_settings_end_with_the_transaction(
    database_url: str, job_rows: JobRows
) -> None:
    """The pooled connection (one, so the same) comes back as the services' role, no tenant."""
    who = text("SELECT pg_backend_pid(), current_user, current_setting('herald.tenant_id', true)")
    db = Database(database_url, pool_size=1)
    try:
        async with db.transaction(job_rows.tenant_id) as session:
            inside = (await session.execute(who)).one()
        async with db.transaction() as session:
            after = (await session.execute(who)).one()
    finally:
        await db.dispose()
    assert inside[1:] == ("herald_tenant", str(job_rows.tenant_id))
    assert after[0] == inside[0]  # the same connection
    assert after[1] != "herald_tenant"
    assert not after[2]


async def test_every_tenant_table_is_walled_and_the_role_reaches_nothing_else(
    db: Database,
) -> None:
    """A new table with a tenant must get its policy; any other table stays out of the tenant
    role's reach but for what a tenant's transaction needs (migrations 0015-0017)."""
    async with db.transaction() as session:
        tables = {
            name: (walled, policies, has_tenant)
            for name, walled, policies, has_tenant in (
                await session.execute(
                    text(
                        """
                        SELECT c.relname, c.relrowsecurity,
                               (SELECT count(*) FROM pg_policies p
                                 WHERE p.tablename = c.relname AND p.policyname = 'tenant_wall'),
                               EXISTS (SELECT FROM information_schema.columns i
                                        WHERE i.table_name = c.relname
                                          AND i.column_name = 'tenant_id')
                          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = 'public' AND c.relkind = 'r'
                        """
                    )
                )
            ).all()
        }
        reach = {
            name: {
                right
                for right in ("SELECT", "INSERT", "UPDATE", "DELETE")
                if await session.scalar(
                    text("SELECT has_table_privilege('herald_tenant', :t, :r)"),
                    {"t": f"public.{name}", "r": right},
                )
            }
            for name in tables
        }
    owned = {name for name, (_, _, has_tenant) in tables.items() if has_tenant} | {"tenants"}
    unwalled = sorted(n for n in owned if not (tables[n][0] and tables[n][1] == 1))
    assert unwalled == []
    others = {name: rights for name, rights in reach.items() if name not in owned and rights}
    assert others == {"outbox": {"INSERT"}, "rate_limit_buckets": {"SELECT", "DELETE"}}
