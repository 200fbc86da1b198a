"""X's API v2 as docs.x.com documents it, for the adapter's tests:

- ``POST /2/oauth2/token`` (``grant_type=refresh_token``, the client in HTTP Basic): a new
  access token *and a new refresh token*; the old refresh token stops working (rotation);
- ``POST /2/media/upload/initialize`` (``media_type``, ``total_bytes``, ``media_category``),
  ``POST /2/media/upload/{id}/append`` (multipart ``media``, ``segment_index``),
  ``POST /2/media/upload/{id}/finalize`` (video: ``processing_info`` pending), and
  ``GET /2/media/upload?command=STATUS&media_id=`` until ``succeeded``;
- ``POST /2/tweets`` (``text``, ``media.media_ids``) → 201 ``{"data": {"id", "text"}}``; the
  same text twice is 403 "duplicate content";
- ``GET /2/users/me`` and ``GET /2/users/{id}/tweets`` (newest first);
- errors as problem JSON (``{"title", "detail", "type", "status"}``), rate limits in
  ``x-rate-limit-limit|remaining|reset`` (reset in Unix seconds), 429 "Too Many Requests".
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.pkce import s256
from tests.fakes.serving import serving

CLIENT_ID, CLIENT_SECRET = "x-client", "x-client-secret"
USER_ID, USERNAME = "2244994945", "heraldbrand"
MAX_CHUNK = 5 * 1024 * 1024


@dataclass
class Upload:
    id: str
    media_type: str
    total_bytes: int
    received: dict[int, int] = field(default_factory=dict)  # segment → bytes
    digest: Any = field(default_factory=hashlib.sha256)
    finalized: bool = False
    polls_left: int = 0

    @property
    def ready(self) -> bool:
        return self.finalized and self.polls_left == 0


@dataclass
class Tweet:
    id: str
    text: str
    media_ids: list[str]


@dataclass
class XFake:
    refresh_tokens: set[str] = field(default_factory=lambda: {"x-refresh-1"})
    access_tokens: set[str] = field(default_factory=set)
    uploads: dict[str, Upload] = field(default_factory=dict)
    tweets: list[Tweet] = field(default_factory=list)
    script: list[tuple[int, float | None]] = field(default_factory=list)  # (status, reset in s)
    processing_polls: int = 1
    refreshes: int = 0
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → (challenge, uri)
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_860_000_000))

    def mint(self) -> str:
        token = secrets.token_urlsafe(24)
        self.access_tokens.add(token)
        return token

    def _limits(self, remaining: int = 99, reset_in: float = 900) -> dict[str, str]:
        return {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(time.time() + reset_in)),
        }

    def _problem(self, status: int, title: str, detail: str, **headers: str) -> JSONResponse:
        body = {"title": title, "detail": detail, "type": "about:blank", "status": status}
        return JSONResponse(body, status, headers={**self._limits(), **headers})

    def _gate(self, request: Request) -> Response | None:
        if self.script:
            status, reset_in = self.script.pop(0)
            if status == 429:
                return self._problem(
                    429,
                    "Too Many Requests",
                    "Too Many Requests",
                    **self._limits(0, reset_in or 0),
                )
            return self._problem(status, "Scripted", "Scripted failure")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return self._problem(401, "Unauthorized", "Unauthorized")
        return None

    async def authorize(self, request: Request) -> Response:
        """X's consent screen, answered at once with a code (PKCE S256 required)."""
        query = request.query_params
        if query.get("client_id") != CLIENT_ID or query.get("code_challenge_method") != "S256":
            return JSONResponse({"error": "invalid_request"}, 400)
        if "offline.access" not in str(query.get("scope", "")).split():
            return JSONResponse({"error": "invalid_scope"}, 400)  # no refresh token without it
        code = secrets.token_urlsafe(16)
        target = str(query.get("redirect_uri"))
        self.codes[code] = (str(query.get("code_challenge")), target)
        return RedirectResponse(
            f"{target}?{urlencode({'state': query.get('state'), 'code': code})}"
        )

    async def token(self, request: Request) -> Response:
        basic = request.headers.get("authorization", "").removeprefix("Basic ")
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if basic != expected:
            return JSONResponse({"error": "unauthorized_client"}, 401)
        form = await request.form()
        if form.get("grant_type") == "authorization_code":
            issued = self.codes.pop(str(form.get("code")), None)
            verifier = str(form.get("code_verifier"))
            if issued is None or issued != (s256(verifier), form.get("redirect_uri")):
                return JSONResponse({"error": "invalid_request"}, 400)
            return self._tokens()
        old = str(form.get("refresh_token"))
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if old not in self.refresh_tokens:  # what X answers for a spent or revoked token
            return JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": "Value passed for the token was invalid.",
                },
                400,
            )
        self.refresh_tokens.discard(old)  # rotation: the old one is spent
        self.refreshes += 1
        return self._tokens()

    def _tokens(self) -> JSONResponse:
        new_refresh = "x-refresh-" + secrets.token_urlsafe(8)
        self.refresh_tokens.add(new_refresh)
        return JSONResponse(
            {
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": self.mint(),
                "scope": "tweet.read tweet.write users.read media.write offline.access",
                "refresh_token": new_refresh,
            }
        )

    async def initialize(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        body = await request.json()
        upload = Upload(str(next(self._ids)), str(body["media_type"]), int(body["total_bytes"]))
        upload.polls_left = self.processing_polls if upload.media_type.startswith("video/") else 0
        self.uploads[upload.id] = upload
        data = {"id": upload.id, "media_key": f"3_{upload.id}", "expires_after_secs": 86400}
        return JSONResponse({"data": data}, headers=self._limits())

    async def append(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        upload = self.uploads.get(request.path_params["id"])
        if upload is None:
            return self._problem(400, "Invalid Request", "media_id not found")
        form = await request.form()
        chunk, index = form.get("media"), int(str(form.get("segment_index")))
        if not isinstance(chunk, UploadFile) or index != len(upload.received):
            return self._problem(400, "Invalid Request", "segments must come in order")
        data = await chunk.read()
        await form.close()
        if len(data) > MAX_CHUNK:
            return self._problem(400, "Invalid Request", "segment too large")
        upload.digest.update(data)
        upload.received[index] = len(data)
        return Response(status_code=200, headers=self._limits())

    async def finalize(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        upload = self.uploads.get(request.path_params["id"])
        if upload is None or sum(upload.received.values()) != upload.total_bytes:
            return self._problem(400, "Invalid Request", "size does not match total_bytes")
        upload.finalized = True
        data: dict[str, Any] = {"id": upload.id, "size": upload.total_bytes}
        if upload.polls_left:
            data["processing_info"] = {"state": "pending", "check_after_secs": 0}
        return JSONResponse({"data": data}, headers=self._limits())

    async def status(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        upload = self.uploads.get(request.query_params.get("media_id", ""))
        if upload is None:
            return self._problem(400, "Invalid Request", "media_id not found")
        if upload.polls_left:
            upload.polls_left -= 1
        state = "succeeded" if upload.ready else "in_progress"
        info = {
            "state": state,
            "check_after_secs": 0,
            "progress_percent": 100 if upload.ready else 50,
        }
        return JSONResponse({"data": {"id": upload.id, "processing_info": info}})

    async def post_tweet(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        body = await request.json()
        text = str(body.get("text", ""))
        media_ids = [str(m) for m in body.get("media", {}).get("media_ids", [])]
        if len(text) > 280:
            return self._problem(400, "Invalid Request", "text is too long")
        if any(t.text == text for t in self.tweets):
            return self._problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
            )
        if any(m not in self.uploads or not self.uploads[m].ready for m in media_ids):
            return self._problem(400, "Invalid Request", "Your media IDs are invalid.")
        tweet = Tweet(str(next(self._ids)), text, media_ids)
        self.tweets.append(tweet)
        return JSONResponse(
            {"data": {"id": tweet.id, "text": text, "edit_history_tweet_ids": [tweet.id]}},
            201,
            headers=self._limits(),
        )

    async def me(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        return JSONResponse({"data": {"id": USER_ID, "name": "Herald", "username": USERNAME}})

    async def timeline(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        size = int(request.query_params.get("max_results", "10"))
        newest = [{"id": t.id, "text": t.text} for t in reversed(self.tweets)][:size]
        return JSONResponse({"data": newest, "meta": {"result_count": len(newest)}})


@contextlib.asynccontextmanager
async def x_fake() -> AsyncIterator[XFake]:
    fake = XFake()
    app = Starlette(
        routes=[
            Route("/2/oauth2/token", fake.token, methods=["POST"]),
            Route("/i/oauth2/authorize", fake.authorize),
            Route("/2/media/upload/initialize", fake.initialize, methods=["POST"]),
            Route("/2/media/upload/{id}/append", fake.append, methods=["POST"]),
            Route("/2/media/upload/{id}/finalize", fake.finalize, methods=["POST"]),
            Route("/2/media/upload", fake.status, methods=["GET"]),
            Route("/2/tweets", fake.post_tweet, methods=["POST"]),
            Route("/2/users/me", fake.me),
            Route("/2/users/{id}/tweets", fake.timeline),
        ]
    )
    async with serving(app) as base:
        fake.url = base
        yield fake
