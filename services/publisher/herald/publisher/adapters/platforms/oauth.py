"""A platform's OAuth 2 token endpoint, for refreshing access tokens (RFC 6749 section 6).

One form POST on the publisher's shared httpx client. (authlib, the library we would reach for,
is moving from httpx to httpx2: its 1.9 warns at import without httpx2, which ``pytest -W
error`` and our logs would not forgive; the refresh grant is small enough to own.)

``invalid_grant`` means the refresh token was revoked or has expired: only the tenant can fix
that by connecting again, so it is an auth failure (the channel becomes ``reauth_required``).
A refused client (``invalid_client``, ``unauthorized_client``, ...) is Herald's own OAuth app
misconfigured: a permanent error that no retry mends. An endpoint that is down, slow or
limiting (5xx, 429, a body that is not a token) is transient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from herald.publisher.adapters.platforms.http_errors import classify_response, classify_transport
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)
from herald.publisher.domain.token_refresh import TokenGrant


@dataclass(frozen=True)
class TokenEndpoint:
    """``basic_auth``: the client authenticates with HTTP Basic (X, LinkedIn) instead of
    ``client_id`` and ``client_secret`` in the form (Google). ``grant_errors``: the error codes
    by which this endpoint says the refresh token is spent or revoked (X says
    ``invalid_request``)."""

    url: str
    client_id: str
    client_secret: str
    basic_auth: bool = False
    grant_errors: frozenset[str] = frozenset({"invalid_grant"})
    timeout_s: float = 20.0

    async def refresh(self, client: httpx.AsyncClient, refresh_token: str) -> TokenGrant:
        if not refresh_token:
            raise AuthExpiredError("no_refresh_token", "the channel has no refresh token")
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        extra: dict[str, Any] = {}
        if self.basic_auth:
            extra["auth"] = httpx.BasicAuth(self.client_id, self.client_secret)
        else:
            form |= {"client_id": self.client_id, "client_secret": self.client_secret}
        try:
            response = await client.post(
                self.url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self.timeout_s,
                **extra,
            )
        except httpx.HTTPError as error:
            raise classify_transport(error) from error
        return grant_from(response, self.grant_errors)


def grant_from(
    response: httpx.Response, grant_errors: frozenset[str] = frozenset({"invalid_grant"})
) -> TokenGrant:
    """The grant in a token endpoint's answer, or the error it means."""
    body = _json(response)
    if response.is_success and isinstance(body.get("access_token"), str):
        expires_in = body.get("expires_in")
        rotated = body.get("refresh_token")
        return TokenGrant(
            body["access_token"],
            rotated if isinstance(rotated, str) and rotated else None,
            float(expires_in) if isinstance(expires_in, int | float) else None,
        )
    if isinstance(code := body.get("error"), str) and response.status_code in (400, 401):
        raise _refusal(code, body.get("error_description"), grant_errors)
    if response.is_success:
        raise TransientPublishError("token_unreadable", "the answer held no token")
    raise classify_response(
        response.status_code, response.headers.get("retry-after"), datetime.now(UTC)
    )


def _refusal(code: str, description: object, grant_errors: frozenset[str]) -> PublishError:
    reason = f"the token endpoint refused the refresh: {code[:60]}"
    if isinstance(description, str) and description:
        reason += f" ({description[:200]})"
    if code in grant_errors:
        return AuthExpiredError("invalid_grant", reason)
    return PermanentPublishError(f"oauth_{code}"[:60], reason)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
