"""Connecting channels with OAuth 2: ``POST /v1/channels/{platform}/connect`` returns where to
send the user's browser; the platform sends it back to ``GET /v1/oauth/callback/{platform}``,
which makes (or re-authorizes) the channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Query

from herald.api.auth import Role, State, Who, require
from herald.api.schemas import ChannelOut, ConnectIn, ConnectStarted, OAuthConnected
from herald.api.service_layer import audit, oauth_connections

router = APIRouter(tags=["channels"])
log = structlog.get_logger(__name__)


@router.post("/v1/channels/{platform}/connect", status_code=201, dependencies=[require(Role.ADMIN)])
async def connect_channel(platform: str, body: ConnectIn, who: Who, state: State) -> ConnectStarted:
    """Start connecting a channel of an OAuth platform (``google_business``, ``x``): send the
    user's browser to ``authorize_url`` within ``expires_at``. With ``channel_id``, the
    existing channel gets the new tokens (re-authorization) and its parked jobs resume."""
    async with state.db.transaction(who.tenant_id) as session:
        started = await oauth_connections.start(
            session,
            state,
            who.tenant_id,
            who.key_id,
            platform,
            name=body.name,
            config=body.config,
            channel_id=body.channel_id,
            now=datetime.now(UTC),
        )
        audit.record(
            session,
            who.tenant_id,
            who,
            "channel.connect_started",
            "channel",
            body.channel_id,
            platform=platform,
        )
    log.info("oauth.connect_started", platform=platform, reconnect=body.channel_id is not None)
    return ConnectStarted(authorize_url=started.authorize_url, expires_at=started.expires_at)


@router.get("/v1/oauth/callback/{platform}")
async def oauth_callback(
    platform: str,
    state: State,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    oauth_state: Annotated[str | None, Query(alias="state", max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> OAuthConnected:
    """Where the platform sends the user back. No API key: the ``state`` names the
    connection, and works once, for ten minutes."""
    connected = await oauth_connections.finish(
        state, platform, code=code, secret_state=oauth_state, error=error, now=datetime.now(UTC)
    )
    await state.relay.send(connected.staged)
    log.info(
        "oauth.connected",
        platform=platform,
        channel_id=str(connected.channel.id),
        reconnected=connected.reconnected,
        resumed_jobs=connected.resumed,
    )
    channel = ChannelOut.model_validate(connected.channel, from_attributes=True)
    return OAuthConnected(
        channel=channel, reconnected=connected.reconnected, resumed_jobs=connected.resumed
    )
