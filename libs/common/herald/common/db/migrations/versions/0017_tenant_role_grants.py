"""tenant role grants

0015 gave ``herald_tenant`` every privilege on every table, and on future ones by default. A
table without a policy was then open to it: the outbox (every tenant's event payloads), the
inbox, locks, heartbeats. The role now holds what a tenant's transaction needs and no more:
the tenant-owned tables (each behind its policy), INSERT on the outbox (with SELECT on the
columns an INSERT reads back, never the payload), and reading and deleting rate-limit buckets
(a deleted channel's). A new table gets its grants in its own migration.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "herald_tenant"
TENANT_TABLES = (
    "tenants",
    "api_keys",
    "channels",
    "assets",
    "publish_jobs",
    "publish_attempts",
    "alerts",
    "audit_events",
    "silences",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_delivery_attempts",
    "idempotency_keys",
    "oauth_connections",
)


def upgrade() -> None:
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TENANT_TABLES)} TO {ROLE}")
    op.execute(f"GRANT INSERT ON outbox TO {ROLE}")
    op.execute(f"GRANT SELECT (id, headers, created_at, publish_failures) ON outbox TO {ROLE}")
    op.execute(f"GRANT SELECT, DELETE ON rate_limit_buckets TO {ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {ROLE}"
    )
