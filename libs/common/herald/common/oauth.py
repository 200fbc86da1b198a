"""OAuth 2 with the platforms that use it: Herald's client at each, PKCE (RFC 7636), the
authorization URL, and the token endpoint's two grants (RFC 6749 sections 4.1 and 6).

The API connects channels (authorize, then exchange the code); the publisher refreshes their
tokens. Both call ``token_request``: one form POST on the caller's httpx client. (authlib,
the library we would reach for, is moving from httpx to httpx2: its 1.9 warns at import
without httpx2, which ``pytest -W error`` and our logs would not forgive.)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from herald.common.domain.token_grants import TokenGrant, credentials_of
from herald.common.settings import HeraldSettings

__all__ = [
    "OAuthClient",
    "TokenEndpointFailed",
    "TokenGrant",
    "TokenRefused",
    "authorization_url",
    "challenge",
    "credentials_of",
    "exchange_code",
    "new_state",
    "new_verifier",
    "oauth_clients",
    "refresh",
]


@dataclass(frozen=True)
class OAuthClient:
    """Herald's OAuth client at one platform. ``basic_auth``: the client authenticates with
    HTTP Basic (X) instead of its id and secret in the form (Google). ``grant_errors``: the
    error codes by which the token endpoint says a grant is spent, revoked or unknown (X
    says ``invalid_request``)."""

    platform: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    client_id: str
    client_secret: str = field(repr=False)
    basic_auth: bool = False
    grant_errors: frozenset[str] = frozenset({"invalid_grant"})
    authorize_params: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 20.0

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


class TokenRefused(Exception):
    """The token endpoint refused the grant (``grant_gone``: only the user can fix it by
    connecting again) or Herald's client (misconfigured)."""

    def __init__(self, code: str, description: str | None, grant_gone: bool):
        super().__init__(f"{code}: {description}" if description else code)
        self.code, self.description, self.grant_gone = code, description, grant_gone


class TokenEndpointFailed(Exception):
    """The token endpoint did not answer, failed (5xx), limited us (429) or answered no token.
    ``status`` is None when no answer came."""

    def __init__(self, reason: str, status: int | None = None, retry_after: str | None = None):
        super().__init__(reason)
        self.status, self.retry_after = status, retry_after


def oauth_clients(settings: HeraldSettings) -> dict[str, OAuthClient]:
    """Herald's client at each OAuth platform, from settings (unconfigured without an id)."""
    return {
        "google_business": OAuthClient(
            platform="google_business",
            authorize_url=settings.google_authorize_url,
            token_url=settings.google_token_url,
            scopes=("https://www.googleapis.com/auth/business.manage",),
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret,
            # a refresh token comes only with offline access, and again only with consent
            authorize_params=(("access_type", "offline"), ("prompt", "consent")),
        ),
        "x": OAuthClient(
            platform="x",
            authorize_url=settings.x_authorize_url,
            token_url=settings.x_token_url,
            scopes=("tweet.read", "tweet.write", "users.read", "media.write", "offline.access"),
            client_id=settings.x_client_id,
            client_secret=settings.x_client_secret,
            basic_auth=True,
            grant_errors=frozenset({"invalid_grant", "invalid_request"}),
        ),
        "linkedin": OAuthClient(
            platform="linkedin",
            authorize_url=settings.linkedin_authorize_url,
            token_url=settings.linkedin_token_url,
            scopes=("w_organization_social", "r_organization_social", "w_member_social"),
            client_id=settings.linkedin_client_id,
            client_secret=settings.linkedin_client_secret,
        ),
    }


def new_state() -> str:
    """The ``state`` that ties a callback to the request that started it (256 bits)."""
    return secrets.token_urlsafe(32)


def new_verifier() -> str:
    """A PKCE code verifier: 86 characters of the unreserved alphabet (RFC 7636 section 4.1)."""
    return secrets.token_urlsafe(64)


def challenge(verifier: str) -> str:
    """The S256 code challenge of ``verifier``: base64url(SHA-256), without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(client: OAuthClient, redirect_uri: str, state: str, verifier: str) -> str:
    """Where the user's browser goes to let Herald post for them."""
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(client.scopes),
        "state": state,
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
        **dict(client.authorize_params),
    }
    separator = "&" if "?" in client.authorize_url else "?"
    return f"{client.authorize_url}{separator}{urlencode(params)}"


async def exchange_code(
    http: httpx.AsyncClient, client: OAuthClient, code: str, verifier: str, redirect_uri: str
) -> TokenGrant:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    return await token_request(http, client, form)


async def refresh(http: httpx.AsyncClient, client: OAuthClient, refresh_token: str) -> TokenGrant:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await token_request(http, client, form)


async def token_request(
    http: httpx.AsyncClient, client: OAuthClient, form: dict[str, str]
) -> TokenGrant:
    extra: dict[str, Any] = {}
    if client.basic_auth:
        extra["auth"] = httpx.BasicAuth(client.client_id, client.client_secret)
    else:
        form = {**form, "client_id": client.client_id, "client_secret": client.client_secret}
    try:
        response = await http.post(
            client.token_url,
            data=form,
            headers={"Accept": "application/json"},
            timeout=client.timeout_s,
            **extra,
        )
    except httpx.HTTPError as error:
        raise TokenEndpointFailed(f"{type(error).__name__}: {error}") from error
    return grant_from(response, client.grant_errors)


def grant_from(response: httpx.Response, grant_errors: frozenset[str]) -> TokenGrant:
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
    code = body.get("error")
    if isinstance(code, str) and response.status_code in (400, 401):
        description = body.get("error_description")
        raise TokenRefused(
            code[:60],
            description[:200] if isinstance(description, str) else None,
            code in grant_errors,
        )
    if response.is_success:
        raise TokenEndpointFailed("the token endpoint's answer held no token", 200)
    raise TokenEndpointFailed(
        f"the token endpoint answered {response.status_code}",
        response.status_code,
        response.headers.get("retry-after"),
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
