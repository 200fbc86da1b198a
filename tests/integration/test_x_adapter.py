"""The X adapter against a contract fake of X's API v2 and its token endpoint, over real HTTP;
refreshes through the publisher's ``Tokens`` on a real channel row."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest

from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.oauth import OAuthClient
from herald.common.settings import HeraldSettings
from herald.publisher.adapters.platforms.base import Content
from herald.publisher.adapters.platforms.x import XAdapter
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    TransientPublishError,
)
from herald.publisher.tokens import Access, Tokens
from tests.fakes.media_host import sha256_of
from tests.fakes.x_api import CLIENT_ID, CLIENT_SECRET, XFake, x_fake
from tests.integration.oauth_channels import channel_access, stored

MB = 1024 * 1024
POST = Content("Grand opening", "Doors open at 9.", ())


@pytest.fixture
async def fake() -> AsyncIterator[XFake]:
    async with x_fake() as running:
        yield running


@pytest.fixture
async def adapter(fake: XFake) -> AsyncIterator[XAdapter]:
    x_client = OAuthClient(
        platform="x",
        authorize_url=f"{fake.url}/i/oauth2/authorize",
        token_url=f"{fake.url}/2/oauth2/token",
        scopes=("tweet.write", "offline.access"),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        basic_auth=True,
        grant_errors=frozenset({"invalid_grant", "invalid_request"}),
    )
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield XAdapter(client, api_url=fake.url, oauth_client=x_client, allow_private=True)


async def access(db: Database, box: CredentialBox, settings: HeraldSettings, token: str) -> Access:
    return await channel_access(
        db,
        box,
        settings,
        "x",
        {},
        {"access_token": token, "refresh_token": "x-refresh-1"},
    )


async def test_a_post_with_an_image_and_a_video_in_segments(
    adapter: XAdapter,
    fake: XFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, fake.mint())
    image = f"{files}/files/shop.png?size=300000&type=image/png"
    video = f"{files}/files/tour.mp4?size={9 * MB + 5}&type=video/mp4"
    post_id = await Tokens(db, box).publish(given, adapter, Content("t", "b", (image, video)), "j1")
    [tweet] = fake.tweets
    assert tweet.id == post_id
    uploads = [fake.uploads[m] for m in tweet.media_ids]
    assert [len(u.received) for u in uploads] == [1, 3]  # 4 MB segments
    assert uploads[1].digest.hexdigest() == sha256_of("tour.mp4", 9 * MB + 5)


async def test_a_refused_token_refreshes_and_the_rotated_refresh_token_is_stored(
    adapter: XAdapter,
    fake: XFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, "stale")
    await Tokens(db, box).publish(given, adapter, POST, "j2")
    assert len(fake.tweets) == 1
    kept = await stored(db, box, given.channel_id)
    assert kept["refresh_token"] != "x-refresh-1"  # rotated: the old one is spent
    assert kept["refresh_token"] in fake.refresh_tokens
    assert "x-refresh-1" not in fake.refresh_tokens


async def test_two_workers_refresh_once_so_the_rotated_token_is_not_spent_twice(
    adapter: XAdapter,
    fake: XFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    first = await access(db, box, settings, "stale")
    second = Access(first.channel_id, first.config, first.sealed, dict(first.credentials))
    tokens = Tokens(db, box)
    await asyncio.gather(
        tokens.publish(first, adapter, Content("one", "", ()), "j3"),
        tokens.publish(second, adapter, Content("two", "", ()), "j4"),
    )
    assert fake.refreshes == 1
    assert sorted(t.text for t in fake.tweets) == ["one", "two"]


async def test_a_spent_refresh_token_is_an_auth_failure(
    adapter: XAdapter,
    fake: XFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    fake.refresh_tokens.clear()
    given = await access(db, box, settings, "stale")
    with pytest.raises(AuthExpiredError) as refused:
        await Tokens(db, box).publish(given, adapter, POST, "j5")
    assert refused.value.code == "invalid_grant"
    assert fake.tweets == []


async def test_429_waits_until_x_rate_limit_reset(
    adapter: XAdapter,
    fake: XFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, fake.mint())
    fake.script.append((429, 600))
    with pytest.raises(TransientPublishError) as limited:
        await Tokens(db, box).publish(given, adapter, POST, "j6")
    assert limited.value.retry_after_s is not None
    assert 595 <= limited.value.retry_after_s <= 601


async def test_lookup_finds_what_an_uncertain_attempt_posted_and_a_duplicate_is_refused(
    adapter: XAdapter,
    fake: XFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    """The publisher asks lookup first after an uncertain attempt; a post of the same text by
    another job is refused, never taken for this one's."""
    given = await access(db, box, settings, fake.mint())
    assert await adapter.lookup(given.target, "j7", POST) is None
    first = await adapter.publish(given.target, POST, "j7")  # its answer was "lost"
    assert await adapter.lookup(given.target, "j7", POST) == first
    with pytest.raises(PermanentPublishError, match="duplicate content") as refused:
        await adapter.publish(given.target, POST, "another-job")
    assert refused.value.http_status == 403
    assert len(fake.tweets) == 1


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("size=1000&type=image/tiff", "media_unsupported_type"),
        ("size=6000000&type=image/png", "media_too_large"),
        ("size=1000&type=image/png&undeclared=1", "media_size_unknown"),
    ],
)
async def test_media_x_cannot_take_fails_before_the_upload(
    adapter: XAdapter,
    fake: XFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
    query: str,
    code: str,
) -> None:
    given = await access(db, box, settings, fake.mint())
    with pytest.raises(PermanentPublishError) as refused:
        await adapter.publish(given.target, Content("t", "b", (f"{files}/files/x?{query}",)), "j8")
    assert refused.value.code == code
    assert fake.uploads == {}


async def test_a_video_far_larger_than_memory_should_hold_goes_a_segment_at_a_time(
    adapter: XAdapter,
    fake: XFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, fake.mint())
    size = 150 * MB
    video = Content("launch", "", (f"{files}/files/launch.mp4?size={size}&type=video/mp4",))
    tracemalloc.start()
    try:
        await adapter.publish(given.target, video, "j9")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [upload] = fake.uploads.values()
    assert upload.digest.hexdigest() == sha256_of("launch.mp4", size)
    # a few copies of one 4 MB segment (the adapter's, the fake's parse), never the file
    # (measured: 12.7 MB; 68.6 MB when httpx's files= kept every segment until a GC ran)
    assert peak < 24 * MB, f"peak {peak / MB:.1f} MB for a {size / MB:.0f} MB upload"
