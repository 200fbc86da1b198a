"""Connecting a channel with OAuth 2: the authorization URL, then the platform's callback.

``start`` keeps what the callback will need server-side (the PKCE verifier sealed, the
channel to make or to re-authorize) under the SHA-256 of a random ``state``; only the user's
browser carries the state itself. ``finish`` takes the connection by its state once (a
replayed or expired state is refused), exchanges the code with the verifier, and creates the
channel with its tokens sealed, or gives an existing channel new ones and resumes its parked
jobs. The token exchange is the one platform call the API makes: it is part of connecting,
not of publishing.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.api.service_layer import audit, channels
from herald.api.service_layer.errors import Invalid, Unavailable
from herald.api.service_layer.job_control import resume_waiting_auth
from herald.api.state import AppState
from herald.common import oauth
from herald.common.credentials import Sealed
from herald.common.db.models import Channel, OAuthConnection, OutboxMessage, PublishJob
from herald.common.domain import token_grants
from herald.common.ids import new_id
from herald.common.platforms import CATALOG, PlatformInfo, config_problems

CONNECT_TTL = timedelta(minutes=10)
"""How long a started connection may be finished (the user logging in and consenting)."""


@dataclass(frozen=True)
class Started:
    authorize_url: str
    expires_at: datetime


@dataclass(frozen=True)
class Connected:
    channel: Channel
    reconnected: bool
    resumed: int
    staged: list[OutboxMessage]


def state_hash(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


def oauth_platform(state: AppState, platform: str) -> tuple[PlatformInfo, oauth.OAuthClient]:
    info = CATALOG.get(platform)
    if info is None or not info.oauth:
        oauth_ones = sorted(p.name for p in CATALOG.values() if p.oauth)
        raise Invalid(
            "not_an_oauth_platform",
            "This platform is not connected with OAuth",
            f"{platform!r} is not one of: {', '.join(oauth_ones)}",
        )
    client = state.oauth_clients.get(platform)
    if client is None or not client.configured:
        raise Unavailable(
            "oauth_not_configured",
            "Herald has no OAuth client for this platform",
            f"the operator sets HERALD_{platform.upper()}_CLIENT_ID and _CLIENT_SECRET",
        )
    return info, client


async def start(
    session: AsyncSession,
    state: AppState,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID,
    platform: str,
    *,
    name: str | None,
    config: dict[str, object],
    channel_id: uuid.UUID | None,
    now: datetime,
) -> Started:
    info, client = oauth_platform(state, platform)
    if channel_id is not None:  # re-authorize: the channel keeps its name and config
        channel = await channels.locked(session, tenant_id, channel_id)
        if channel.platform != platform:
            raise Invalid(
                "invalid_channel", "Channel is of another platform", f"it is {channel.platform}"
            )
        name, config = channel.name, channel.config
    elif problems := config_problems(
        info, config, allow_private=state.settings.webhook_allow_private_targets
    ):
        raise Invalid("invalid_channel", "Channel settings are incomplete", "; ".join(problems))
    secret_state, verifier = oauth.new_state(), oauth.new_verifier()
    sealed = state.credentials.seal({"verifier": verifier})
    redirect_uri = f"{state.settings.public_url.rstrip('/')}/v1/oauth/callback/{platform}"
    expires_at = now + CONNECT_TTL
    session.add(
        OAuthConnection(
            id=new_id(),
            tenant_id=tenant_id,
            platform=platform,
            state_hash=state_hash(secret_state),
            verifier_ciphertext=sealed.ciphertext,
            verifier_key_id=sealed.key_id,
            redirect_uri=redirect_uri,
            channel_id=channel_id,
            name=name or info.title,
            config=config,
            created_by=key_id,
            expires_at=expires_at,
        )
    )
    url = oauth.authorization_url(client, redirect_uri, secret_state, verifier)
    return Started(url, expires_at)


async def finish(
    state: AppState,
    platform: str,
    *,
    code: str | None,
    secret_state: str | None,
    error: str | None,
    now: datetime,
) -> Connected:
    _, client = oauth_platform(state, platform)
    connection = await _take(state, platform, secret_state, now)
    if error or not code:
        raise Invalid(
            "oauth_denied",
            "The platform did not grant access",
            f"the platform answered error={error[:100]}" if error else "no code came back",
        )
    verifier = str(
        state.credentials.open(Sealed(connection.verifier_key_id, connection.verifier_ciphertext))[
            "verifier"
        ]
    )
    try:
        async with httpx.AsyncClient() as http:
            grant = await oauth.exchange_code(http, client, code, verifier, connection.redirect_uri)
    except oauth.TokenRefused as refused:
        raise Invalid(
            "oauth_exchange_refused", "The platform refused the authorization code", refused.code
        ) from None
    except oauth.TokenEndpointFailed as failed:
        raise Unavailable(
            "oauth_exchange_failed",
            "The platform's token endpoint failed; connect again",
            str(failed),
        ) from None
    return await _store(state, connection, grant, now)


async def _take(
    state: AppState, platform: str, secret_state: str | None, now: datetime
) -> OAuthConnection:
    """The started connection of ``secret_state``, consumed: a state works once."""
    async with state.db.transaction() as session:  # no tenant yet: the state names it
        connection = await session.scalar(
            select(OAuthConnection)
            .where(OAuthConnection.state_hash == state_hash(secret_state or ""))
            .with_for_update()
        )
        refusal = _refusal(connection, platform, now)
        if refusal is not None:
            raise Invalid("invalid_oauth_state", "This connection cannot be finished", refusal)
        assert connection is not None
        connection.used_at = now
    return connection


def _refusal(connection: OAuthConnection | None, platform: str, now: datetime) -> str | None:
    if connection is None or connection.platform != platform:
        return "no connection was started with this state: start again"
    if connection.used_at is not None:
        return "this connection was already finished"
    if connection.expires_at <= now:
        return "this connection expired: start again"
    return None


async def _store(
    state: AppState, connection: OAuthConnection, grant: oauth.TokenGrant, now: datetime
) -> Connected:
    credentials = oauth.credentials_of(grant, now)
    sealed = state.credentials.seal(credentials)
    tenant_id = connection.tenant_id
    resumed: list[PublishJob] = []
    staged: list[OutboxMessage] = []
    async with state.db.transaction(tenant_id) as session:
        if connection.channel_id is not None:
            channel = await channels.locked(session, tenant_id, connection.channel_id)
            channel.auth_state = channels.AuthState.OK
            resumed, staged = await resume_waiting_auth(session, tenant_id, channel.id, now)
        else:
            channel = Channel(
                id=new_id(),
                tenant_id=tenant_id,
                platform=connection.platform,
                name=connection.name,
                config=connection.config,
            )
            session.add(channel)
        channel.credentials_ciphertext, channel.credentials_key_id = (
            sealed.ciphertext,
            sealed.key_id,
        )
        channel.token_expires_at = token_grants.refreshable_expiry(credentials)
        action = "channel.reconnected" if connection.channel_id else "channel.connected"
        await session.flush()
        audit.record(
            session,
            tenant_id,
            f"key:{connection.created_by}" if connection.created_by else "oauth",
            action,
            "channel",
            channel.id,
            platform=connection.platform,
        )
        await session.flush()
        await session.refresh(channel)
    return Connected(channel, connection.channel_id is not None, len(resumed), staged)
