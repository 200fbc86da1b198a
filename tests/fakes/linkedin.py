"""LinkedIn's versioned REST API (Posts, Images, Videos) and its OAuth token endpoint, as
Microsoft Learn documents them, for the adapter's tests:

- every call needs ``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0``;
- ``POST /rest/images?action=initializeUpload`` → ``{"value": {"uploadUrl", "image"}}``, then
  ``PUT`` of the bytes to ``uploadUrl`` (201);
- ``POST /rest/videos?action=initializeUpload`` (owner, ``fileSizeBytes`` of 75 KB to
  500 MB) → ``{"value": {"video", "uploadInstructions": [{"uploadUrl", "firstByte",
  "lastByte"}], "uploadToken"}}`` with parts of 4 MB; each part's ``PUT`` must carry exactly
  its bytes and is answered with an ``ETag``; ``?action=finalizeUpload`` needs the token and
  every part's ETag in order; ``GET /rest/videos/{urn, encoded}`` then says ``PROCESSING``
  (``processing_polls`` times) and ``AVAILABLE``, or ``PROCESSING_FAILED``;
- ``POST /rest/posts`` → 201 with the post's URN in ``x-restli-id`` and no body; the same
  commentary again is 422 DUPLICATE_POST; a video must be ``AVAILABLE``;
  ``GET /rest/posts?q=author&author=…`` lists them;
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
PART = 4 * 1024 * 1024
MIN_VIDEO, MAX_VIDEO = 75 * 1024, 500 * 1024 * 1024


@dataclass
class Image:
    urn: str
    owner: str
    size: int = 0
    sha256: str = ""
    uploaded: bool = False


@dataclass
class Video:
    urn: str
    owner: str
    size: int
    upload_token: str
    parts: list[tuple[int, int]]  # (firstByte, lastByte) of each part
    etags: dict[int, str] = field(default_factory=dict)  # part → ETag, once received
    received: list[int] = field(default_factory=list)  # the parts, in the order they came
    digest: Any = field(default_factory=hashlib.sha256)  # of the parts that came in order
    status: str = "WAITING_UPLOAD"
    polls_left: int = 0


@dataclass
class Post:
    urn: str
    author: str
    commentary: str
    images: list[str]
    video: str = ""
    title: str = ""


@dataclass
class LinkedInFake:
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=lambda: {"li-refresh-1"})
    images: dict[str, Image] = field(default_factory=dict)
    videos: dict[str, Video] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    part_faults: dict[int, int] = field(default_factory=dict)  # part → status, answered once
    processing_polls: int = 1  # status reads that answer PROCESSING after finalizeUpload
    processing_fails: bool = False
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
        one = content.get("media", {})
        video = str(one["id"]) if str(one.get("id", "")).startswith("urn:li:video:") else ""
        if video and (video not in self.videos or self.videos[video].status != "AVAILABLE"):
            return self._error(422, "INVALID_CONTENT", "Video is not available")
        ids = (
            ([] if video else [one["id"]])
            if one
            else [i["id"] for i in content.get("multiImage", {}).get("images", [])]
        )
        if any(i not in self.images or not self.images[i].uploaded for i in ids):
            return self._error(422, "INVALID_CONTENT", "Image is not uploaded")
        urn, author = f"urn:li:share:{next(self._ids)}", str(body.get("author"))
        post = Post(urn, author, commentary, ids, video, str(one.get("title", "")))
        self.posts.append(post)
        return Response(status_code=201, headers={"x-restli-id": post.urn})

    async def videos_action(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        action = request.query_params.get("action")
        if action == "initializeUpload":
            return self._initialize_video((await request.json())["initializeUploadRequest"])
        if action == "finalizeUpload":
            return self._finalize_video((await request.json())["finalizeUploadRequest"])
        return self._error(400, "ILLEGAL_ARGUMENT", "unknown action")

    def _initialize_video(self, asked: dict[str, Any]) -> Response:
        size = int(asked["fileSizeBytes"])
        if not MIN_VIDEO <= size <= MAX_VIDEO:
            return self._error(400, "INVALID_FILE_SIZE", "Video size must be 75 KB to 500 MB")
        number = next(self._ids)
        parts = [(first, min(size, first + PART) - 1) for first in range(0, size, PART)]
        token = secrets.token_urlsafe(12) if len(parts) > 1 else ""
        video = Video(f"urn:li:video:C5F10AQ{number}", str(asked["owner"]), size, token, parts)
        self.videos[video.urn] = video
        instructions = [
            {
                "uploadUrl": f"{self.url}/dms-uploads/videos/{number}/parts/{index}",
                "firstByte": first,
                "lastByte": last,
            }
            for index, (first, last) in enumerate(parts)
        ]
        return JSONResponse(
            {
                "value": {
                    "uploadUrlsExpireAt": 1650567510704,
                    "video": video.urn,
                    "uploadInstructions": instructions,
                    "uploadToken": token,
                }
            }
        )

    async def video_part(self, request: Request) -> Response:
        """A part's upload URL (signed by LinkedIn: no token needed)."""
        video = self.videos.get(f"urn:li:video:C5F10AQ{request.path_params['number']}")
        index = int(request.path_params["index"])
        if video is None or video.status != "WAITING_UPLOAD" or index >= len(video.parts):
            return self._error(404, "NOT_FOUND", "no such upload")
        in_order, part, size = index == len(video.received), hashlib.sha256(), 0
        whole = video.digest.copy()  # kept only if this part is the next and is accepted
        async for chunk in request.stream():
            part.update(chunk)
            whole.update(chunk)
            size += len(chunk)
        if (status := self.part_faults.pop(index, None)) is not None:
            return self._error(status, "SCRIPTED", "Scripted part failure")
        first, last = video.parts[index]
        if size != last - first + 1:
            return self._error(400, "INVALID_PART", f"part {index} is bytes {first}-{last}")
        if in_order:
            video.digest = whole
        video.received.append(index)
        video.etags[index] = f"/AQH{part.hexdigest()[:32]}"
        return Response(status_code=200, headers={"ETag": video.etags[index]})

    def _finalize_video(self, asked: dict[str, Any]) -> Response:
        video = self.videos.get(str(asked.get("video")))
        if video is None:
            return self._error(404, "NOT_FOUND", "no such video")
        etags = [video.etags.get(i) for i in range(len(video.parts))]
        if asked.get("uploadToken") != video.upload_token or asked.get("uploadedPartIds") != etags:
            return self._error(400, "ILLEGAL_ARGUMENT", "uploadedPartIds do not match the parts")
        video.status, video.polls_left = "PROCESSING", self.processing_polls
        return Response(status_code=200)

    async def video_status(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        raw = request.scope["raw_path"].decode().rsplit("/", 1)[-1]
        if ":" in raw:  # Rest.li 2.0: a URN in the path is URL-encoded
            return self._error(400, "ILLEGAL_ARGUMENT", "Syntax exception in path variables")
        video = self.videos.get(request.path_params["urn"])
        if video is None:
            return self._error(404, "NOT_FOUND", "no such video")
        if video.status == "PROCESSING" and video.polls_left > 0:
            video.polls_left -= 1
        elif video.status == "PROCESSING":
            video.status = "PROCESSING_FAILED" if self.processing_fails else "AVAILABLE"
        body = {"owner": video.owner, "id": video.urn, "status": video.status}
        if video.status == "PROCESSING_FAILED":
            body["processingFailureReason"] = "Video format is not supported"
        return JSONResponse(body)

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
            Route("/rest/videos", fake.videos_action, methods=["POST"]),
            Route("/rest/videos/{urn}", fake.video_status, methods=["GET"]),
            Route(
                "/dms-uploads/videos/{number}/parts/{index:int}", fake.video_part, methods=["PUT"]
            ),
            Route("/rest/posts", fake.posts_route, methods=["GET", "POST"]),
            Route("/oauth/v2/authorization", fake.authorize),
            Route("/oauth/v2/accessToken", fake.token, methods=["POST"]),
        ]
    )
    async with serving(app) as base:
        fake.url = base
        yield fake
