"""A channel row of an OAuth platform with sealed credentials, and the access a publish attempt
would hold for it (for the adapter tests that refresh tokens through ``Tokens``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from herald.common.credentials import CredentialBox, Sealed
from herald.common.db.engine import Database
from herald.common.db.models import Channel
from herald.common.settings import HeraldSettings
from herald.publisher.tokens import Access
from tests.integration.conftest import add_job_rows


async def channel_access(
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
    platform: str,
    config: dict[str, Any],
    credentials: dict[str, Any],
) -> Access:
    rows = await add_job_rows(db, settings.credential_keys)
    sealed = box.seal(credentials)
    async with db.transaction() as session:
        channel = await session.get_one(Channel, rows.channel_id)
        channel.platform, channel.config = platform, config
        channel.credentials_ciphertext = sealed.ciphertext
        channel.credentials_key_id = sealed.key_id
    return Access(rows.channel_id, config, sealed, dict(credentials))


async def stored(db: Database, box: CredentialBox, channel_id: uuid.UUID) -> dict[str, Any]:
    """The channel's credentials as stored now."""
    async with db.transaction() as session:
        channel = await session.scalar(select(Channel).where(Channel.id == channel_id))
    assert channel is not None
    assert channel.credentials_ciphertext is not None and channel.credentials_key_id is not None
    return box.open(Sealed(channel.credentials_key_id, channel.credentials_ciphertext))
