"""channel inventories

What a signage channel's account has, as the publisher's periodic sync last read it: its
screens (with the playlist each shows) and playlists, when it was last read and when last
tried, and why the last try failed. Tenants read it (``GET /v1/channels/{id}/inventory``)
under row security; only the services write it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_inventories",
        sa.Column("channel_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column(
            "screens",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "playlists",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_channel_inventories_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_channel_inventories_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_inventories")),
    )
    op.create_index(
        op.f("ix_channel_inventories_tenant_id"),
        "channel_inventories",
        ["tenant_id"],
        unique=False,
    )
    op.execute("GRANT SELECT ON channel_inventories TO herald_tenant")
    op.execute("ALTER TABLE channel_inventories ENABLE ROW LEVEL SECURITY")
    wall = "tenant_id = current_setting('herald.tenant_id')::uuid"
    op.execute(
        f"CREATE POLICY tenant_wall ON channel_inventories TO herald_tenant "
        f"USING ({wall}) WITH CHECK ({wall})"
    )


def downgrade() -> None:
    op.drop_table("channel_inventories")
