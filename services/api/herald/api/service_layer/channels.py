"""Channels: validated against the platform catalog, credentials sealed before storing."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.schemas import ChannelIn
from herald.api.service_layer.errors import Invalid
from herald.common.credentials import CredentialBox
from herald.common.db.models import Channel
from herald.common.ids import new_id
from herald.common.platforms import CATALOG, config_problems, credential_problems


async def create(
    session: AsyncSession, tenant_id: uuid.UUID, body: ChannelIn, box: CredentialBox
) -> Channel:
    platform = CATALOG.get(body.platform)
    if platform is None:
        raise Invalid(
            "unknown_platform",
            "Unknown platform",
            f"{body.platform!r} is not one of: {', '.join(sorted(CATALOG))}",
        )
    problems = config_problems(platform, body.config)
    problems += credential_problems(platform, body.credentials)
    if problems:
        raise Invalid("invalid_channel", "Channel settings are incomplete", "; ".join(problems))
    sealed = box.seal(body.credentials)
    channel = Channel(
        id=new_id(),
        tenant_id=tenant_id,
        platform=platform.name,
        name=body.name,
        config=body.config,
        credentials_ciphertext=sealed.ciphertext,
        credentials_key_id=sealed.key_id,
        auth_state="ok",
    )
    session.add(channel)
    await session.flush()
    await session.refresh(channel)
    return channel
