"""Channels: validated against the platform catalog, credentials sealed before storing.

A channel's jobs are the audit trail of what was published to it, so a channel with jobs is
never deleted: it is disconnected (its credentials dropped), and its jobs wait for new ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete as delete_rows
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.schemas import ChannelIn, ChannelPatch
from herald.api.service_layer.errors import Invalid, NotFound, Refused
from herald.api.service_layer.job_control import resume_waiting_auth
from herald.common.credentials import CredentialBox
from herald.common.db.models import Channel, OutboxMessage, PublishJob, RateLimitBucket
from herald.common.domain.token_grants import refreshable_expiry
from herald.common.ids import new_id
from herald.common.platforms import CATALOG, channel_key, config_problems, credential_problems


class AuthState(StrEnum):
    OK = "ok"  # the credentials work, as far as Herald knows
    REAUTH_REQUIRED = "reauth_required"  # the platform refused them for good: replace them
    DISCONNECTED = "disconnected"  # an admin dropped them: jobs wait until new ones are given


NEEDS_AUTH = frozenset({AuthState.REAUTH_REQUIRED, AuthState.DISCONNECTED})


@dataclass(frozen=True)
class Updated:
    channel: Channel
    fields: list[str]  # the names of the fields changed, never their values
    resumed: int  # jobs requeued from waiting_auth
    staged: list[OutboxMessage]  # their events and publish requests, relayed after the commit


async def create(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    body: ChannelIn,
    box: CredentialBox,
    *,
    allow_private: bool = False,
) -> Channel:
    platform = CATALOG.get(body.platform)
    if platform is None:
        raise Invalid(
            "unknown_platform",
            "Unknown platform",
            f"{body.platform!r} is not one of: {', '.join(sorted(CATALOG))}",
        )
    problems = config_problems(platform, body.config, allow_private=allow_private)
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
        token_expires_at=refreshable_expiry(body.credentials),
        auth_state="ok",
    )
    session.add(channel)
    await session.flush()
    await session.refresh(channel)
    return channel


async def locked(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> Channel:
    """The tenant's channel, locked until the commit; another tenant's is not found."""
    channel = await session.scalar(
        select(Channel)
        .where(Channel.id == channel_id, Channel.tenant_id == tenant_id)
        .with_for_update()
    )
    if channel is None:
        raise NotFound("channel")
    return channel


async def update(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    channel_id: uuid.UUID,
    patch: ChannelPatch,
    box: CredentialBox,
    now: datetime,
    *,
    allow_private: bool = False,
) -> Updated:
    """Apply ``patch``; new credentials re-authorize the channel and resume its parked jobs."""
    channel = await locked(session, tenant_id, channel_id)
    _check(channel.platform, patch, allow_private)
    fields = sorted(patch.model_fields_set)
    if patch.name is not None:
        channel.name = patch.name
    if patch.config is not None:
        channel.config = patch.config
    resumed: list[PublishJob] = []
    staged: list[OutboxMessage] = []
    if patch.credentials is not None:
        sealed = box.seal(patch.credentials)
        channel.credentials_ciphertext, channel.credentials_key_id = (
            sealed.ciphertext,
            sealed.key_id,
        )
        channel.token_expires_at = refreshable_expiry(patch.credentials)
        if channel.auth_state in NEEDS_AUTH:
            channel.auth_state = AuthState.OK
            fields.append("auth_state")
        # whatever refused the old credentials, the new ones deserve a try
        resumed, staged = await resume_waiting_auth(session, tenant_id, channel.id, now)
    await session.flush()
    return Updated(channel, sorted(fields), len(resumed), staged)


def _check(platform_name: str, patch: ChannelPatch, allow_private: bool) -> None:
    if patch.config is None and patch.credentials is None:
        return
    platform = CATALOG.get(platform_name)
    if platform is None:
        raise Invalid(
            "unknown_platform",
            "Unknown platform",
            f"{platform_name!r} is no longer served: only the name can change",
        )
    problems = (
        []
        if patch.config is None
        else config_problems(platform, patch.config, allow_private=allow_private)
    )
    if patch.credentials is not None:
        problems += credential_problems(platform, patch.credentials)
    if problems:
        raise Invalid("invalid_channel", "Channel settings are incomplete", "; ".join(problems))


async def disconnect(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> Channel:
    """Drop the stored credentials: publishing its jobs waits (``waiting_auth``) for new ones."""
    channel = await locked(session, tenant_id, channel_id)
    channel.credentials_ciphertext = channel.credentials_key_id = None
    channel.token_expires_at = None
    channel.auth_state = AuthState.DISCONNECTED
    await session.flush()
    return channel


async def delete(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> None:
    """Delete a channel that never had a job. The row lock makes a concurrent approval wait,
    and then fail on its foreign key, rather than lose its job to the cascade."""
    channel = await locked(session, tenant_id, channel_id)
    in_use = await session.scalar(
        select(
            exists().where(PublishJob.tenant_id == tenant_id, PublishJob.channel_id == channel.id)
        )
    )
    if in_use:
        raise Refused(
            "channel_in_use",
            "Channel has publish jobs",
            "its jobs are the record of what was published to it, so it cannot be deleted: "
            "disconnect it instead (POST /v1/channels/{id}/disconnect)",
        )
    await session.execute(delete_rows(Channel).where(Channel.id == channel.id))
    await session.execute(
        delete_rows(RateLimitBucket).where(RateLimitBucket.key == channel_key(channel.id))
    )
