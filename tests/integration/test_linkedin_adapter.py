"""The LinkedIn adapter against a contract fake of LinkedIn's versioned REST API and token
endpoint, over real HTTP; refreshes through the publisher's ``Tokens`` on a real channel row."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest

from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.oauth import OAuthClient
from herald.common.settings import HeraldSettings
from herald.publisher.adapters.platforms import linkedin_video
from herald.publisher.adapters.platforms.base import Content
from herald.publisher.adapters.platforms.linkedin import LinkedInAdapter
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    TransientPublishError,
)
from herald.publisher.tokens import Access, Tokens
from tests.fakes.linkedin import CLIENT_ID, CLIENT_SECRET, ORGANIZATION, LinkedInFake, linkedin_fake
from tests.fakes.media_host import sha256_of
from tests.integration.oauth_channels import channel_access, stored

MB = 1024 * 1024
POST = Content("Grand opening", "Doors open at 9.", ())


@pytest.fixture
async def fake() -> AsyncIterator[LinkedInFake]:
    async with linkedin_fake() as running:
        yield running


@pytest.fixture
async def adapter(fake: LinkedInFake) -> AsyncIterator[LinkedInAdapter]:
    client = OAuthClient(
        platform="linkedin",
        authorize_url=f"{fake.url}/oauth/v2/authorization",
        token_url=f"{fake.url}/oauth/v2/accessToken",
        scopes=("w_organization_social",),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    async with httpx.AsyncClient(timeout=10.0) as http:
        yield LinkedInAdapter(http, api_url=fake.url, oauth_client=client, allow_private=True)


async def access(db: Database, box: CredentialBox, settings: HeraldSettings, token: str) -> Access:
    return await channel_access(
        db,
        box,
        settings,
        "linkedin",
        {"author": ORGANIZATION},
        {"access_token": token, "refresh_token": "li-refresh-1"},
    )


async def test_a_post_with_two_images_streamed_to_their_upload_urls(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, fake.mint())
    images = (
        f"{files}/files/front.jpg?size=400000&type=image/jpeg",
        f"{files}/files/back.png?size=2500000&type=image/png&undeclared=1",
    )
    urn = await Tokens(db, box).publish(given, adapter, Content("t", "b", images), "job-1")
    [post] = fake.posts
    assert (post.urn, post.author) == (urn, ORGANIZATION)
    uploaded = [fake.images[i] for i in post.images]
    assert [(i.size, i.owner) for i in uploaded] == [
        (400000, ORGANIZATION),
        (2500000, ORGANIZATION),
    ]
    assert uploaded[1].sha256 == sha256_of("back.png", 2500000)


async def test_a_revoked_token_refreshes_once_and_the_new_tokens_are_stored(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, "revoked")
    await Tokens(db, box).publish(given, adapter, POST, "job-2")
    assert (len(fake.posts), fake.refreshes) == (1, 1)
    assert (await stored(db, box, given.channel_id))["access_token"] in fake.access_tokens


async def test_an_invalid_grant_is_an_auth_failure(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    fake.refresh_tokens.clear()
    given = await access(db, box, settings, "revoked")
    with pytest.raises(AuthExpiredError) as refused:
        await Tokens(db, box).publish(given, adapter, POST, "job-3")
    assert refused.value.code == "invalid_grant"


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, TransientPublishError), (503, TransientPublishError), (403, PermanentPublishError)],
)
async def test_each_error_class(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
    status: int,
    error: type[Exception],
) -> None:
    given = await access(db, box, settings, fake.mint())
    fake.script.append(status)
    with pytest.raises(error, match="Scripted failure"):
        await adapter.publish(given.target, POST, "job-4")


async def test_lookup_finds_the_post_and_a_duplicate_is_refused(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, fake.mint())
    assert await adapter.lookup(given.target, "job-5", POST) is None
    urn = await adapter.publish(given.target, POST, "job-5")
    assert await adapter.lookup(given.target, "job-5", POST) == urn
    with pytest.raises(PermanentPublishError, match="DUPLICATE_POST"):
        await adapter.publish(given.target, POST, "job-6")
    assert await adapter.verify(given.target) == ORGANIZATION


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linkedin_video, "PROCESSING_POLL_S", 0.01)


async def test_a_video_far_larger_than_memory_should_hold_goes_a_part_at_a_time(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, fake.mint())
    size = 100 * MB + 5  # 26 parts, the last one 5 bytes
    fake.processing_polls = 2
    video = Content("Launch", "", (f"{files}/files/launch.mp4?size={size}&type=video/mp4",))
    tracemalloc.start()
    try:
        urn = await adapter.publish(given.target, video, "job-7")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [post] = fake.posts
    assert (post.urn, post.title, post.images) == (urn, "Launch", [])
    uploaded = fake.videos[post.video]
    assert (uploaded.owner, uploaded.size, uploaded.status) == (ORGANIZATION, size, "AVAILABLE")
    assert uploaded.received == list(range(26))
    assert uploaded.digest.hexdigest() == sha256_of("launch.mp4", size)
    assert fake.images == {}
    # a part goes as the source's chunks come, never held whole (measured: 1.3 MB; a
    # buffered 4 MB part alone would break the bound)
    assert peak < 4 * MB, f"peak {peak / MB:.1f} MB for a {size / MB:.0f} MB upload"


@pytest.mark.parametrize(
    "files_given",
    [
        ("front.jpg?size=80000&type=image/jpeg", "a.mp4?size=80000&type=video/mp4"),
        ("a.mp4?size=80000&type=video/mp4", "b.mp4?size=80000&type=video/mp4"),
    ],
)
async def test_a_video_with_other_media_is_refused_before_any_upload(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
    files_given: tuple[str, str],
) -> None:
    given = await access(db, box, settings, fake.mint())
    mixed = Content("t", "b", tuple(f"{files}/files/{f}" for f in files_given))
    with pytest.raises(PermanentPublishError, match="one video alone") as refused:
        await adapter.publish(given.target, mixed, "job-8")
    assert refused.value.code == "media_mixed"
    assert (fake.images, fake.videos, fake.posts) == ({}, {}, [])


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("size=80000&type=video/mp4&undeclared=1", "media_size_unknown"),
        ("size=70000&type=video/mp4", "media_too_small"),
        (f"size={501 * MB}&type=video/mp4", "media_too_large"),
        ("size=80000&type=video/quicktime", "media_unsupported_type"),
    ],
)
async def test_a_video_linkedin_cannot_take_fails_before_the_upload(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
    query: str,
    code: str,
) -> None:
    given = await access(db, box, settings, fake.mint())
    video = Content("t", "b", (f"{files}/files/v.mp4?{query}",))
    with pytest.raises(PermanentPublishError) as refused:
        await adapter.publish(given.target, video, "job-9")
    assert refused.value.code == code
    assert fake.videos == {}


async def test_a_part_refused_with_a_5xx_is_transient(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, fake.mint())
    fake.part_faults[1] = 503
    video = Content("t", "b", (f"{files}/files/v.mp4?size={9 * MB}&type=video/mp4",))
    with pytest.raises(TransientPublishError, match="Scripted part failure") as failed:
        await adapter.publish(given.target, video, "job-10")
    assert failed.value.http_status == 503
    [uploading] = fake.videos.values()
    assert (uploading.received, uploading.status, fake.posts) == ([0], "WAITING_UPLOAD", [])


async def test_a_video_linkedin_cannot_process_is_a_permanent_failure(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, fake.mint())
    fake.processing_fails = True
    video = Content("t", "b", (f"{files}/files/v.mp4?size=80000&type=video/mp4",))
    with pytest.raises(PermanentPublishError, match="format is not supported") as refused:
        await adapter.publish(given.target, video, "job-11")
    assert refused.value.code == "media_processing_failed"
    assert fake.posts == []


async def test_a_video_still_processing_at_the_deadline_is_transient(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = await access(db, box, settings, fake.mint())
    monkeypatch.setattr(linkedin_video, "PROCESSING_DEADLINE_S", 0.2)
    fake.processing_polls = 1_000_000
    video = Content("t", "b", (f"{files}/files/v.mp4?size=80000&type=video/mp4",))
    with pytest.raises(TransientPublishError) as pending:
        await adapter.publish(given.target, video, "job-12")
    assert pending.value.code == "media_processing"
    [processing] = fake.videos.values()
    assert processing.status == "PROCESSING"
    assert 1_000_000 - processing.polls_left >= 2  # it did poll, and stopped
    assert fake.posts == []


async def test_parts_cut_chunks_at_any_byte_and_the_plan_must_cover_the_file_in_order() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b"abc", b"defgh", b"ij"):
            yield chunk

    parts = linkedin_video.Parts(chunks())
    assert [b"".join([c async for c in parts.take(n)]) for n in (4, 2, 4)] == [
        b"abcd",
        b"ef",
        b"ghij",
    ]
    with pytest.raises(TransientPublishError, match="1 bytes short"):
        [c async for c in parts.take(1)]
    part = {"uploadUrl": "u1", "firstByte": 0, "lastByte": 3}
    assert linkedin_video.plan([part, {"uploadUrl": "u2", "firstByte": 4, "lastByte": 5}], 6) == [
        ("u1", 4),
        ("u2", 2),
    ]
    for gap in ({"uploadUrl": "u2", "firstByte": 5, "lastByte": 5}, part):
        with pytest.raises(PermanentPublishError, match="do not cover"):
            linkedin_video.plan([part, gap], 6)
