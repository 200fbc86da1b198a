"""tenant row security

PostgreSQL row-level security as the second wall under the API's query scoping. The API runs
each request's transaction as the role ``herald_tenant`` with ``herald.tenant_id`` set
(``Database.transaction(tenant=...)``); that role sees and writes only rows whose tenant_id is
the one set, whatever a query forgets to filter. A transaction without the setting fails
instead of seeing everything. The services that work across tenants (publisher, alerter,
recovery, the relay, authentication) keep the connecting role, the tables' owner, which row
security does not restrict (it is enabled, not forced).

``herald_tenant`` is a cluster-wide role without login, granted to the migrating user so that
it may switch to it. Creating it needs CREATEROLE (or a superuser); where the migrating user
lacks it, a DBA runs once: ``CREATE ROLE herald_tenant NOLOGIN; GRANT herald_tenant TO <user>``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "herald_tenant"

# Every table that belongs to one tenant, and the column that names it.
TENANT_TABLES = {
    "tenants": "id",
    "api_keys": "tenant_id",
    "channels": "tenant_id",
    "assets": "tenant_id",
    "publish_jobs": "tenant_id",
    "publish_attempts": "tenant_id",
    "alerts": "tenant_id",
    "audit_events": "tenant_id",
    "silences": "tenant_id",
    "webhook_endpoints": "tenant_id",
    "webhook_deliveries": "tenant_id",
    "webhook_delivery_attempts": "tenant_id",
    "idempotency_keys": "tenant_id",
}


def upgrade() -> None:
    # Several databases of one cluster may migrate at once (a test run's): the role is created
    # by whichever comes first, and the others find it.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                CREATE ROLE {ROLE} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END
        $$
        """
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
                EXECUTE format('GRANT {ROLE} TO %I', current_user);
            END IF;
        END
        $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {ROLE}"
    )
    for table, column in TENANT_TABLES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        # No missing_ok: a tenant transaction without the setting errors rather than sees all.
        wall = f"{column} = current_setting('herald.tenant_id')::uuid"
        op.execute(
            f"CREATE POLICY tenant_wall ON {table} TO {ROLE} USING ({wall}) WITH CHECK ({wall})"
        )


def downgrade() -> None:
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_wall ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {ROLE}")
