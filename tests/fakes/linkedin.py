"""LinkedIn's versioned REST API (Posts and Images) and its OAuth token endpoint, as Microsoft
Learn documents them, for the adapter's tests:

- every call needs ``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0``;
- ``POST /rest/images?action=initializeUpload`` → ``{"value": {"uploadUrl", "image"}}``, then
  ``PUT`` of the bytes to ``uploadUrl`` (201);
- ``POST /rest/posts`` → 201 with the post's URN in ``x-restli-id`` and no body; the same
  commentary again is 422 DUPLICATE_POST; ``GET /rest/posts?q=author&author=…`` lists them;
- errors ``{"status", "serviceErrorCode", "code", "message"}`` (401 REVOKED_ACCESS_TOKEN);
- ``POST /oauth/v2/accessToken`` (client id and secret in the form) refreshes, and
  ``/oauth/v2/authorization`` answers the consent step with a code.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.serving import serving

CLIENT_ID, CLIENT_SECRET = "li-client", "li-client-secret"
ORGANIZATION = "urn:li:organization:5515715"


@dataclass
class Image:
    urn: str
    owner: str
    size: int = 0
    sha256: str = ""
    uploaded: bool = False


@dataclass
class Post:
    urn: str
    author: str
    commentary: str
    images: list[str]


@dataclass
class LinkedInFake:
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=lambda: {"li-refresh-1"})
    images: dict[str, Image] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    refreshes: int = 0
    codes: set[str] = field(default_factory=set)
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(6844785523593134080))

    def mint(self) -> str:
        token = "AQV" + secrets.token_urlsafe(24)
        self.access_tokens.add(token)
        return token

    def _error(self, status: int, code: str, message: str) -> JSONResponse:
        body = {"status": status, "serviceErrorCode": 65600, "code": code, "message": message}
        return JSONResponse(body, status)

    def _gate(self, request: Request) -> Response | None:
        if self.script:
            status = self.script.pop(0)
            return self._error(status, "SCRIPTED", "Scripted failure")
        if not request.headers.get("linkedin-version", "").isdigit():
            return self._error(426, "VERSION_MISSING", "A version must be present")
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            return self._error(400, "PROTOCOL", "Rest.li protocol 2.0.0 required")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return self._error(
                401,
                "REVOKED_ACCESS_TOKEN",
                "The token used in the request has been revoked by the user",
            )
        return None

    async def initialize(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        if request.query_params.get("action") != "initializeUpload":
            return self._error(400, "ILLEGAL_ARGUMENT", "unknown action")
        owner = (await request.json())["initializeUploadRequest"]["owner"]
        image = Image(f"urn:li:image:C4E10AQ{next(self._ids)}", owner)
        self.images[image.urn] = image
        upload_url = f"{self.url}/dms-uploads/{image.urn}"
        return JSONResponse(
            {
                "value": {
                    "uploadUrlExpiresAt": 1650567510704,
                    "uploadUrl": upload_url,
                    "image": image.urn,
                }
            }
        )

    async def upload(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return self._error(401, "REVOKED_ACCESS_TOKEN", "revoked")
        image = self.images.get(request.path_params["urn"])
        if image is None:
            return self._error(404, "NOT_FOUND", "no such upload")
        digest, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        image.size, image.sha256, image.uploaded = size, digest.hexdigest(), True
        return Response(status_code=201)

    async def posts_route(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        if request.method == "GET":
            author = request.query_params.get("author")
            mine = [p for p in reversed(self.posts) if p.author == author]
            count = int(request.query_params.get("count", "10"))
            return JSONResponse(
                {"elements": [{"id": p.urn, "commentary": p.commentary} for p in mine[:count]]}
            )
        body: dict[str, Any] = await request.json()
        commentary = str(body.get("commentary", ""))
        if any(p.commentary == commentary and p.author == body.get("author") for p in self.posts):
            return self._error(422, "DUPLICATE_POST", "Content is a duplicate")
        content = body.get("content", {})
        ids = (
            [content["media"]["id"]]
            if "media" in content
            else [i["id"] for i in content.get("multiImage", {}).get("images", [])]
        )
        if any(i not in self.images or not self.images[i].uploaded for i in ids):
            return self._error(422, "INVALID_CONTENT", "Image is not uploaded")
        post = Post(f"urn:li:share:{next(self._ids)}", str(body.get("author")), commentary, ids)
        self.posts.append(post)
        return Response(status_code=201, headers={"x-restli-id": post.urn})

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(12)
        self.codes.add(code)
        target = str(query.get("redirect_uri"))
        return RedirectResponse(
            f"{target}?{urlencode({'code': code, 'state': query.get('state')})}"
        )

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return JSONResponse({"error": "invalid_client"}, 401)
        if form.get("grant_type") == "authorization_code":
            if str(form.get("code")) not in self.codes:
                return JSONResponse({"error": "invalid_request"}, 400)
            self.codes.discard(str(form.get("code")))
        elif str(form.get("refresh_token")) in self.refresh_tokens:
            self.refreshes += 1
        else:
            return JSONResponse(
                {
                    "error": "invalid_grant",
                    "error_description": "The provided authorization grant is invalid",
                },
                400,
            )
        refresh = "li-refresh-" + secrets.token_urlsafe(8)
        self.refresh_tokens.add(refresh)
        return JSONResponse(
            {
                "access_token": self.mint(),
                "expires_in": 5184000,
                "refresh_token": refresh,
                "refresh_token_expires_in": 31536000,
                "scope": "w_organization_social,r_organization_social",
            }
        )


@contextlib.asynccontextmanager
async def linkedin_fake() -> AsyncIterator[LinkedInFake]:
    fake = LinkedInFake()
    app = Starlette(
        routes=[
            Route("/rest/images", fake.initialize, methods=["POST"]),
            Route("/dms-uploads/{urn}", fake.upload, methods=["PUT"]),
            Route("/rest/posts", fake.posts_route, methods=["GET", "POST"]),
            Route("/oauth/v2/authorization", fake.authorize),
            Route("/oauth/v2/accessToken", fake.token, methods=["POST"]),
        ]
    )
    async with serving(app) as base:
        fake.url = base
        yield fake
