"""Google Business Profile's local posts API and Google's OAuth 2 token endpoint, as Google
documents them, for the adapter's tests:

- ``POST /token`` (``grant_type=refresh_token`` with the client's id and secret in the form)
  answers a new access token with ``expires_in``; a revoked refresh token gets 400
  ``{"error": "invalid_grant"}``, a wrong client 401 ``{"error": "invalid_client"}``;
- ``POST /v4/accounts/{a}/locations/{l}/localPosts`` creates a post (``summary`` up to 1,500
  characters, media by ``sourceUrl``), ``GET`` lists them newest first;
- errors are ``{"error": {"code", "message", "status"}}``: 401 UNAUTHENTICATED for an expired
  or unknown access token, 400 INVALID_ARGUMENT, 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.pkce import s256
from tests.fakes.serving import serving

CLIENT_ID, CLIENT_SECRET = "herald-client", "herald-client-secret"
STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class LocalPost:
    name: str
    summary: str
    language_code: str
    media: list[dict[str, str]]
    create_time: datetime

    def json(self) -> dict[str, Any]:
        stamp = self.create_time.isoformat().replace("+00:00", "Z")
        return {
            "name": self.name,
            "languageCode": self.language_code,
            "summary": self.summary,
            "state": "LIVE",
            "topicType": "STANDARD",
            "createTime": stamp,
            "updateTime": stamp,
            "media": self.media,
            "searchUrl": f"https://local.google.com/place?id={self.name.rsplit('/', 1)[-1]}",
        }


@dataclass
class GoogleBusinessFake:
    """``refresh_tokens``: refresh token → account id; access tokens are minted by /token."""

    refresh_tokens: dict[str, str] = field(default_factory=lambda: {"refresh-1": "100"})
    access_tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    posts: dict[str, list[LocalPost]] = field(default_factory=dict)  # location name → posts
    script: list[int] = field(default_factory=list)  # statuses of the next API calls
    token_script: list[int] = field(default_factory=list)  # of the token endpoint's next answers
    refreshes: int = 0
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → (challenge, uri)
    consent: bool = True  # what the user answers on Google's consent screen
    token_lifetime_s: int = 3599
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(7_000_000))

    def mint(self, account: str = "100", lifetime_s: int | None = None) -> str:
        """An access token of ``account`` (a past lifetime makes an expired one)."""
        token = "ya29." + secrets.token_urlsafe(24)
        expires = datetime.now(UTC) + timedelta(seconds=lifetime_s or self.token_lifetime_s)
        self.access_tokens[token] = (account, expires)
        return token

    def of(self, location: str) -> list[LocalPost]:
        return self.posts.get(location, [])

    async def authorize(self, request: Request) -> Response:
        """Google's consent screen, answered at once: a redirect with a code (or a refusal)."""
        query = request.query_params
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request"}, 400)
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE"}, 400)
        target, state = str(query.get("redirect_uri")), str(query.get("state"))
        if not self.consent:
            return RedirectResponse(
                f"{target}?{urlencode({'error': 'access_denied', 'state': state})}"
            )
        code = "4/" + secrets.token_urlsafe(16)
        self.codes[code] = (str(query["code_challenge"]), target)
        return RedirectResponse(f"{target}?{urlencode({'code': code, 'state': state})}")

    async def token(self, request: Request) -> Response:
        if self.token_script:  # Google's token endpoint has its outages too
            return JSONResponse({"error": "internal_failure"}, self.token_script.pop(0))
        form = await request.form()
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return JSONResponse({"error": "invalid_client"}, 401)
        if form.get("grant_type") == "authorization_code":
            return self._exchange(
                form.get("code"), form.get("code_verifier"), form.get("redirect_uri")
            )
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        account = self.refresh_tokens.get(str(form.get("refresh_token")))
        if account is None:
            return JSONResponse(
                {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
                400,
            )
        self.refreshes += 1
        return JSONResponse(
            {
                "access_token": self.mint(account),
                "expires_in": self.token_lifetime_s,
                "scope": "https://www.googleapis.com/auth/business.manage",
                "token_type": "Bearer",
            }
        )

    def _exchange(self, code: object, verifier: object, redirect_uri: object) -> JSONResponse:
        """A code works once, from the redirect URI it was sent to, with the PKCE verifier."""
        issued = self.codes.pop(str(code), None)
        if issued is None or issued[1] != redirect_uri or issued[0] != s256(str(verifier)):
            return JSONResponse({"error": "invalid_grant", "error_description": "Bad Request"}, 400)
        refresh = "refresh-" + secrets.token_urlsafe(8)
        self.refresh_tokens[refresh] = "100"
        return JSONResponse(
            {
                "access_token": self.mint(),
                "expires_in": self.token_lifetime_s,
                "refresh_token": refresh,
                "scope": "https://www.googleapis.com/auth/business.manage",
                "token_type": "Bearer",
            }
        )

    def _error(self, code: int, message: str) -> JSONResponse:
        status = STATUSES.get(code, "UNKNOWN")
        return JSONResponse({"error": {"code": code, "message": message, "status": status}}, code)

    def _account(self, request: Request) -> tuple[str | None, Response | None]:
        if self.script:
            code = self.script.pop(0)
            return None, self._error(code, "Scripted failure.")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        account, expires = self.access_tokens.get(token, (None, datetime.min.replace(tzinfo=UTC)))
        if account is None or expires <= datetime.now(UTC):
            return None, self._error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        return account, None

    async def local_posts(self, request: Request) -> Response:
        account, refused = self._account(request)
        if refused is not None:
            return refused
        a, location_id = request.path_params["account"], request.path_params["location"]
        if a != account:
            return self._error(403, "The caller does not have permission")
        location = f"accounts/{a}/locations/{location_id}"
        if request.method == "GET":
            newest = sorted(self.of(location), key=lambda p: p.create_time, reverse=True)
            size = int(request.query_params.get("pageSize", "20"))
            return JSONResponse({"localPosts": [p.json() for p in newest[:size]]})
        body = await request.json()
        summary = str(body.get("summary", ""))
        if not summary or len(summary) > 1500:
            return self._error(400, "Request contains an invalid argument.")
        media = [dict(m) for m in body.get("media", [])]
        if any(
            not m.get("sourceUrl") or m.get("mediaFormat") not in {"PHOTO", "VIDEO"} for m in media
        ):
            return self._error(400, "Request contains an invalid argument.")
        post = LocalPost(
            f"{location}/localPosts/{next(self._ids)}",
            summary,
            str(body.get("languageCode", "en")),
            media,
            datetime.now(UTC),
        )
        self.posts.setdefault(location, []).append(post)
        return JSONResponse(post.json())


@contextlib.asynccontextmanager
async def google_business_fake() -> AsyncIterator[GoogleBusinessFake]:
    fake = GoogleBusinessFake()
    app = Starlette(
        routes=[
            Route("/token", fake.token, methods=["POST"]),
            Route("/authorize", fake.authorize),
            Route(
                "/v4/accounts/{account}/locations/{location}/localPosts",
                fake.local_posts,
                methods=["GET", "POST"],
            ),
        ]
    )
    async with serving(app) as base:
        fake.url = base
        yield fake
