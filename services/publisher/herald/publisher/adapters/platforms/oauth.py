"""Refreshing a channel's OAuth tokens at its platform's token endpoint.

``herald.common.oauth`` makes the request (the API's connect flow shares it); this maps its
failures to the publish error classes. ``invalid_grant`` (or the platform's own word for it)
means the refresh token was revoked or has expired: only the tenant can fix that by
connecting again, so it is an auth failure (the channel becomes ``reauth_required``). A
refused client is Herald's own OAuth app misconfigured: a permanent error no retry mends. An
endpoint that is down, slow or limiting is transient.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from herald.common import oauth
from herald.common.oauth import OAuthClient, TokenGrant
from herald.publisher.adapters.platforms.http_errors import classify_response
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    TransientPublishError,
)


async def refresh_grant(
    http: httpx.AsyncClient, client: OAuthClient, refresh_token: str
) -> TokenGrant:
    if not refresh_token:
        raise AuthExpiredError("no_refresh_token", "the channel has no refresh token")
    try:
        return await oauth.refresh(http, client, refresh_token)
    except oauth.TokenRefused as refused:
        reason = f"the token endpoint refused the refresh: {refused.code}"
        if refused.description:
            reason += f" ({refused.description})"
        if refused.grant_gone:
            raise AuthExpiredError("invalid_grant", reason) from None
        raise PermanentPublishError(f"oauth_{refused.code}"[:60], reason) from None
    except oauth.TokenEndpointFailed as failed:
        if failed.status is None:
            raise TransientPublishError("network_error", str(failed)) from None
        if failed.status < 300:
            raise TransientPublishError("token_unreadable", str(failed)) from None
        raise classify_response(failed.status, failed.retry_after, datetime.now(UTC)) from None
