"""publish jobs channel and platform page indexes

``GET /v1/jobs?channel_id=`` and ``?platform=`` (without a status) paged over the tenant's
``(tenant_id, created_at, id)`` index and filtered row by row: a quiet channel of a tenant with
millions of jobs read most of them for one page. ``(tenant_id, channel_id, created_at, id)`` and
``(tenant_id, platform, created_at, id)`` make those pages keyset scans of their own.

Their cost is on writes: a job's status is indexed elsewhere, so its updates (claim, outcome,
retry) are not HOT and each adds an entry to every index of the table, these two included —
about three entries per index over a job's life, until vacuum removes the dead ones. Measured
in the bench's A/B runs, this is within their noise (PostgreSQL ~4 ms of CPU per job in all).

Building them blocks writes to publish_jobs for a moment (seconds at 1M rows). On a large
table, build them beforehand with CREATE INDEX CONCURRENTLY and the same definitions: this
migration then leaves them as they are (IF NOT EXISTS).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 23:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_publish_jobs_tenant_channel_created": ["tenant_id", "channel_id", "created_at", "id"],
    "ix_publish_jobs_tenant_platform_created": ["tenant_id", "platform", "created_at", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "publish_jobs", columns, unique=False, if_not_exists=True)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="publish_jobs", if_exists=True)
