"""Channels: where a tenant publishes. Credentials are sealed at rest and never returned
(nor logged); every change is in the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Response

from herald.api.adapters.repositories import ChannelRepository
from herald.api.auth import Principal, Role, State, Who, require
from herald.api.schemas import (
    ChannelIn,
    ChannelInventoryOut,
    ChannelOut,
    ChannelPage,
    ChannelPatch,
    ChannelVerification,
)
from herald.api.service_layer import audit, channel_checks, channels
from herald.api.service_layer.errors import NotFound, Refused
from herald.api.state import AppState
from herald.common.channel_checks import REFRESH_SUBJECT, VERIFY_SUBJECT
from herald.common.db.models import Channel, ChannelInventory
from herald.common.platforms import CATALOG

router = APIRouter(prefix="/v1/channels", tags=["channels"])
log = structlog.get_logger(__name__)
ADMIN = [require(Role.ADMIN)]


def _out(channel: Channel) -> ChannelOut:
    return ChannelOut.model_validate(channel, from_attributes=True)


@router.post("", status_code=201, dependencies=ADMIN)
async def create_channel(body: ChannelIn, who: Who, state: State) -> ChannelOut:
    async with state.db.transaction(who.tenant_id) as session:
        channel = await channels.create(
            session,
            who.tenant_id,
            body,
            state.credentials,
            allow_private=state.settings.webhook_allow_private_targets,
        )
        audit.record(
            session,
            who.tenant_id,
            who,
            "channel.created",
            "channel",
            channel.id,
            platform=channel.platform,
        )
    return _out(channel)


@router.get("")
async def list_channels(
    who: Who,
    state: State,
    platform: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: uuid.UUID | None = None,
) -> ChannelPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    async with state.db.transaction(who.tenant_id) as session:
        rows, next_cursor = await ChannelRepository(session, who.tenant_id).page(
            platform, limit, cursor
        )
    return ChannelPage(items=[_out(c) for c in rows], next_cursor=next_cursor)


@router.get("/{channel_id}")
async def get_channel(channel_id: uuid.UUID, who: Who, state: State) -> ChannelOut:
    async with state.db.transaction(who.tenant_id) as session:
        channel = await ChannelRepository(session, who.tenant_id).get(channel_id)
    if channel is None:
        raise NotFound("channel")
    return _out(channel)


@router.get(
    "/{channel_id}/inventory",
    responses={409: {"description": "The channel's platform has no inventory"}},
)
async def get_channel_inventory(
    channel_id: uuid.UUID, who: Who, state: State
) -> ChannelInventoryOut:
    """The screens and playlists of a signage channel's account (synced every few minutes);
    409 ``inventory_unsupported`` for a platform that has none."""
    async with state.db.transaction(who.tenant_id) as session:
        channel = await ChannelRepository(session, who.tenant_id).get(channel_id)
        if channel is None:
            raise NotFound("channel")
        platform = CATALOG.get(channel.platform)
        if platform is None or not platform.inventory:
            raise Refused(
                "inventory_unsupported",
                f"{channel.platform} channels have no screens or playlists to list",
            )
        stored = await session.get(ChannelInventory, channel_id)
    if stored is None:
        return ChannelInventoryOut(
            channel_id=channel_id,
            screens=[],
            playlists=[],
            synced_at=None,
            attempted_at=None,
            error=None,
        )
    return ChannelInventoryOut.model_validate(stored, from_attributes=True)


@router.post("/{channel_id}/verify", dependencies=ADMIN)
async def verify_channel(channel_id: uuid.UUID, who: Who, state: State) -> ChannelVerification:
    """Ask the platform, now, whether it accepts the channel's credentials (through a
    publisher; OAuth tokens are refreshed on the way). A refusal marks the channel
    ``reauth_required``; a ``reauth_required`` channel that passes is ``ok`` again and its
    parked jobs resume. 503 ``publisher_unavailable`` when no publisher answers."""
    return await _checked(state, who, channel_id, VERIFY_SUBJECT)


@router.post("/{channel_id}/refresh", dependencies=ADMIN)
async def refresh_channel(channel_id: uuid.UUID, who: Who, state: State) -> ChannelVerification:
    """New OAuth tokens now (Google Business Profile, X), whatever their expiry: the token
    endpoint's verdict, as for verify (``unsupported`` for platforms without tokens)."""
    return await _checked(state, who, channel_id, REFRESH_SUBJECT)


async def _checked(
    state: AppState, who: Principal, channel_id: uuid.UUID, subject: str
) -> ChannelVerification:
    checked = await channel_checks.check(state, who, channel_id, datetime.now(UTC), subject)
    verdict = checked.verdict
    log.info(
        channel_checks.ACTIONS[subject],
        channel_id=str(channel_id),
        outcome=verdict.outcome,
        error_code=verdict.error_code,
        resumed_jobs=checked.resumed,
    )
    if verdict.outcome == "not_found":  # answered before; narrowed for the schema
        raise NotFound("channel")
    return ChannelVerification(
        outcome=verdict.outcome,
        account=verdict.account,
        error_code=verdict.error_code,
        message=verdict.message,
        token_expires_at=verdict.token_expires_at,
        resumed_jobs=checked.resumed,
        channel=_out(checked.channel),
    )


@router.patch("/{channel_id}", dependencies=ADMIN)
async def update_channel(
    channel_id: uuid.UUID, body: ChannelPatch, who: Who, state: State
) -> ChannelOut:
    """Rename it, replace its config, or replace its credentials (write-only). New credentials
    set a reauth_required or disconnected channel back to ok and requeue its jobs waiting in
    ``waiting_auth``."""
    async with state.db.transaction(who.tenant_id) as session:
        updated = await channels.update(
            session,
            who.tenant_id,
            channel_id,
            body,
            state.credentials,
            datetime.now(UTC),
            allow_private=state.settings.webhook_allow_private_targets,
        )
        audit.record(
            session,
            who.tenant_id,
            who,
            "channel.updated",
            "channel",
            channel_id,
            fields=updated.fields,
        )
        out = _out(updated.channel)
    await state.relay.send(updated.staged)
    log.info(
        "channel.updated",
        channel_id=str(channel_id),
        fields=updated.fields,
        resumed_jobs=updated.resumed,
    )
    return out


@router.post("/{channel_id}/disconnect", dependencies=ADMIN)
async def disconnect_channel(channel_id: uuid.UUID, who: Who, state: State) -> ChannelOut:
    """Drop the stored credentials; its jobs wait in ``waiting_auth`` until new credentials
    are given (PATCH). Disconnecting twice is harmless."""
    async with state.db.transaction(who.tenant_id) as session:
        channel = await channels.disconnect(session, who.tenant_id, channel_id)
        audit.record(session, who.tenant_id, who, "channel.disconnected", "channel", channel_id)
        out = _out(channel)
    log.info("channel.disconnected", channel_id=str(channel_id))
    return out


@router.delete("/{channel_id}", status_code=204, dependencies=ADMIN)
async def delete_channel(channel_id: uuid.UUID, who: Who, state: State) -> Response:
    """Delete a channel that has no jobs; one with jobs is refused (409 ``channel_in_use``):
    its jobs are the audit trail, so disconnect it instead."""
    async with state.db.transaction(who.tenant_id) as session:
        await channels.delete(session, who.tenant_id, channel_id)
        audit.record(session, who.tenant_id, who, "channel.deleted", "channel", channel_id)
    log.info("channel.deleted", channel_id=str(channel_id))
    return Response(status_code=204)
