"""oauth connections

A connection started by ``POST /v1/channels/{platform}/connect`` and finished by the platform's
redirect to ``GET /v1/oauth/callback/{platform}``: the SHA-256 of its ``state`` (the state itself
is only in the user's browser), the PKCE verifier (sealed like credentials), what the channel
will be (or which channel gets the new tokens), and until when it may finish. A finished
connection keeps ``used_at`` so that its state cannot be played again. Row security as for
every tenant-owned table (0015).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 19:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_connections",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("state_hash", sa.LargeBinary(), nullable=False),
        sa.Column("verifier_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("verifier_key_id", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_oauth_connections_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_oauth_connections_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_connections")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_connections_state_hash")),
    )
    op.create_index(
        op.f("ix_oauth_connections_tenant_id"), "oauth_connections", ["tenant_id"], unique=False
    )
    op.create_index(
        op.f("ix_oauth_connections_expires_at"), "oauth_connections", ["expires_at"], unique=False
    )
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_connections TO herald_tenant")
    op.execute("ALTER TABLE oauth_connections ENABLE ROW LEVEL SECURITY")
    wall = "tenant_id = current_setting('herald.tenant_id')::uuid"
    op.execute(
        f"CREATE POLICY tenant_wall ON oauth_connections TO herald_tenant "
        f"USING ({wall}) WITH CHECK ({wall})"
    )


def downgrade() -> None:
    op.drop_table("oauth_connections")
