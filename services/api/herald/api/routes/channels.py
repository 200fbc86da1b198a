"""Channels: where a tenant publishes. Credentials are sealed at rest and never returned."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from herald.api.adapters.repositories import ChannelRepository
from herald.api.auth import Role, State, Who, require
from herald.api.problems import Problem, not_found
from herald.api.schemas import ChannelIn, ChannelOut
from herald.common.db.models import Channel
from herald.common.ids import new_id
from herald.common.platforms import CATALOG, config_problems, credential_problems

router = APIRouter(prefix="/v1/channels", tags=["channels"])


def _out(channel: Channel) -> ChannelOut:
    return ChannelOut.model_validate(channel, from_attributes=True)


@router.post("", status_code=201, dependencies=[require(Role.ADMIN)])
async def create_channel(body: ChannelIn, who: Who, state: State) -> ChannelOut:
    platform = CATALOG.get(body.platform)
    if platform is None:
        raise Problem(
            422,
            "unknown_platform",
            "Unknown platform",
            f"{body.platform!r} is not one of: {', '.join(sorted(CATALOG))}",
        )
    problems = config_problems(platform, body.config) + credential_problems(
        platform, body.credentials
    )
    if problems:
        raise Problem(
            422, "invalid_channel", "Channel settings are incomplete", "; ".join(problems)
        )
    sealed = state.credentials.seal(body.credentials)
    channel = Channel(
        id=new_id(),
        tenant_id=who.tenant_id,
        platform=platform.name,
        name=body.name,
        config=body.config,
        credentials_ciphertext=sealed.ciphertext,
        credentials_key_id=sealed.key_id,
        auth_state="ok",
    )
    async with state.db.transaction() as session:
        session.add(channel)
        await session.flush()
        await session.refresh(channel)
    return _out(channel)


@router.get("")
async def list_channels(who: Who, state: State) -> list[ChannelOut]:
    async with state.db.transaction() as session:
        return [_out(c) for c in await ChannelRepository(session, who.tenant_id).list()]


@router.get("/{channel_id}")
async def get_channel(channel_id: uuid.UUID, who: Who, state: State) -> ChannelOut:
    async with state.db.transaction() as session:
        channel = await ChannelRepository(session, who.tenant_id).get(channel_id)
    if channel is None:
        raise not_found("channel")
    return _out(channel)
