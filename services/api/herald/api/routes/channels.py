"""Channels: where a tenant publishes. Credentials are sealed at rest and never returned."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from herald.api.adapters.repositories import ChannelRepository
from herald.api.auth import Role, State, Who, require
from herald.api.schemas import ChannelIn, ChannelOut
from herald.api.service_layer import channels
from herald.api.service_layer.errors import NotFound
from herald.common.db.models import Channel

router = APIRouter(prefix="/v1/channels", tags=["channels"])


def _out(channel: Channel) -> ChannelOut:
    return ChannelOut.model_validate(channel, from_attributes=True)


@router.post("", status_code=201, dependencies=[require(Role.ADMIN)])
async def create_channel(body: ChannelIn, who: Who, state: State) -> ChannelOut:
    async with state.db.transaction() as session:
        channel = await channels.create(session, who.tenant_id, body, state.credentials)
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
        raise NotFound("channel")
    return _out(channel)
