"""channel token expiry

``channels.token_expires_at``: the ``expires_at`` of an OAuth channel's sealed credentials,
written in clear beside them wherever they are stored (the API's create, update and OAuth
callback; the publisher's refresh), so that the publisher's token upkeep finds the channels
whose access token expires soon with an index scan instead of opening every channel's
credentials every minute. An expiry time is not a secret. Rows stored before this migration
have none (it is inside the ciphertext): they get one at their next refresh.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "channels", sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_channels_token_expires_at",
        "channels",
        ["token_expires_at"],
        unique=False,
        postgresql_where=sa.text("auth_state = 'ok' AND token_expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_channels_token_expires_at", table_name="channels")
    op.drop_column("channels", "token_expires_at")
