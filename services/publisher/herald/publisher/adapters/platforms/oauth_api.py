"""What the adapters of OAuth platforms share (Google Business Profile, X, LinkedIn): their
wiring, the token refresh, and one authorized call with its failures classified."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from herald.common.oauth import OAuthClient, TokenGrant
from herald.publisher.adapters.platforms import oauth
from herald.publisher.adapters.platforms.base import Target
from herald.publisher.adapters.platforms.http_errors import send
from herald.publisher.domain.errors import PublishError


class OAuthApiAdapter:
    """``api_url``: the platform's API (a setting, so that tests point it at a contract fake);
    ``oauth_client``: Herald's client there; ``allow_private``: the SSRF guard's switch for
    the tenant-given URLs an adapter fetches (media)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_url: str,
        oauth_client: OAuthClient,
        allow_private: bool = False,
    ):
        self._client = client
        self._api = api_url.rstrip("/")
        self._oauth = oauth_client
        self._allow_private = allow_private

    async def refresh(self, credentials: dict[str, Any]) -> TokenGrant:
        refresh_token = str(credentials.get("refresh_token", ""))
        return await oauth.refresh_grant(self._client, self._oauth, refresh_token)

    async def _send(
        self,
        target: Target,
        method: str,
        url: str,
        refused: Callable[[httpx.Response], PublishError],
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One call with the channel's access token; ``refused`` reads a non-2xx answer."""
        sent = {
            **(headers or {}),
            "Authorization": f"Bearer {target.credentials.get('access_token', '')}",
        }
        return await send(self._client, method, url, refused, headers=sent, **kwargs)
