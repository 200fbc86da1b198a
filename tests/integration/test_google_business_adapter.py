"""The Google Business Profile adapter against a contract fake of the local posts API and of
Google's token endpoint, over real HTTP; refreshes go through the publisher's ``Tokens``, with
a real channel row under its lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.oauth import OAuthClient
from herald.common.settings import HeraldSettings
from herald.publisher.adapters.platforms.base import Content
from herald.publisher.adapters.platforms.google_business import GoogleBusinessAdapter
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    TransientPublishError,
)
from herald.publisher.tokens import Access, Tokens
from tests.fakes.google_business import (
    CLIENT_ID,
    CLIENT_SECRET,
    GoogleBusinessFake,
    google_business_fake,
)
from tests.integration.oauth_channels import channel_access, stored

LOCATION = "accounts/100/locations/200"
POST = Content("Grand opening", "Doors open at 9.", ())


@pytest.fixture
async def fake() -> AsyncIterator[GoogleBusinessFake]:
    async with google_business_fake() as running:
        yield running


@pytest.fixture
async def adapter(fake: GoogleBusinessFake) -> AsyncIterator[GoogleBusinessAdapter]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield GoogleBusinessAdapter(
            client, api_url=fake.url, oauth_client=google_client(fake), allow_private=True
        )


def google_client(fake: GoogleBusinessFake, secret: str = CLIENT_SECRET) -> OAuthClient:
    return OAuthClient(
        platform="google_business",
        authorize_url=f"{fake.url}/authorize",
        token_url=f"{fake.url}/token",
        scopes=("https://www.googleapis.com/auth/business.manage",),
        client_id=CLIENT_ID,
        client_secret=secret,
    )


async def access_to(
    db: Database, box: CredentialBox, settings: HeraldSettings, credentials: dict[str, object]
) -> Access:
    """A Google channel row holding ``credentials`` sealed, and an attempt's access to it."""
    return await channel_access(
        db, box, settings, "google_business", {"location": LOCATION}, credentials
    )


def expiring(token: str, in_s: float) -> dict[str, object]:
    at = (datetime.now(UTC) + timedelta(seconds=in_s)).isoformat()
    return {"access_token": token, "refresh_token": "refresh-1", "expires_at": at}


async def test_a_post_with_a_photo_and_a_video(
    adapter: GoogleBusinessAdapter,
    fake: GoogleBusinessFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    access = await access_to(db, box, settings, expiring(fake.mint(), 3000))
    media = (
        f"{files}/files/shop.jpg?size=200000&type=image/jpeg",
        f"{files}/files/tour.mp4?size=3000000&type=video/mp4",
    )
    content = Content("Grand opening", "Doors open at 9.", media)
    name = await Tokens(db, box).publish(access, adapter, content, "job-1")
    [post] = fake.of(LOCATION)
    assert post.name == name
    assert post.summary == "Grand opening\n\nDoors open at 9."
    assert [m["mediaFormat"] for m in post.media] == ["PHOTO", "VIDEO"]
    assert [m["sourceUrl"] for m in post.media] == list(media)
    assert fake.refreshes == 0  # the token had 50 minutes left


async def test_an_expired_token_refreshes_once_stores_the_new_one_and_succeeds(
    adapter: GoogleBusinessAdapter,
    fake: GoogleBusinessFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    """Google says nothing of expiry here (no ``expires_at``): its 401 does."""
    access = await access_to(
        db, box, settings, {"access_token": "ya29.old", "refresh_token": "refresh-1"}
    )
    name = await Tokens(db, box).publish(access, adapter, POST, "job-2")
    assert [p.name for p in fake.of(LOCATION)] == [name]
    assert fake.refreshes == 1
    kept = await stored(db, box, access.channel_id)
    assert kept["access_token"] != "ya29.old"
    assert kept["access_token"] in fake.access_tokens
    assert kept["refresh_token"] == "refresh-1"
    assert "expires_at" in kept


async def test_a_token_about_to_expire_is_refreshed_before_the_call(
    adapter: GoogleBusinessAdapter,
    fake: GoogleBusinessFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    access = await access_to(db, box, settings, expiring(fake.mint(), 30))
    tokens = Tokens(db, box)
    await tokens.fresh(access, adapter)
    assert fake.refreshes == 1
    await tokens.publish(access, adapter, POST, "job-3")
    assert len(fake.of(LOCATION)) == 1
    assert fake.refreshes == 1


async def test_two_workers_refreshing_at_once_ask_the_token_endpoint_once(
    adapter: GoogleBusinessAdapter,
    fake: GoogleBusinessFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    """The second waits on the channel's row lock, then takes what the first stored (with a
    rotating refresh token, a second refresh would be refused)."""
    first = await access_to(db, box, settings, expiring("ya29.old", 10))
    second = Access(first.channel_id, first.config, first.sealed, dict(first.credentials))
    tokens = Tokens(db, box)
    await asyncio.gather(tokens.fresh(first, adapter), tokens.fresh(second, adapter))
    assert fake.refreshes == 1
    assert first.credentials["access_token"] == second.credentials["access_token"]


async def test_a_revoked_grant_is_an_auth_failure(
    adapter: GoogleBusinessAdapter,
    fake: GoogleBusinessFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    fake.refresh_tokens.clear()
    access = await access_to(db, box, settings, {"access_token": "x", "refresh_token": "refresh-1"})
    with pytest.raises(AuthExpiredError) as refused:
        await Tokens(db, box).publish(access, adapter, POST, "job-4")
    assert refused.value.code == "invalid_grant"
    assert "expired or revoked" in refused.value.message
    assert fake.of(LOCATION) == []


async def test_a_misconfigured_client_is_permanent(
    fake: GoogleBusinessFake, db: Database, box: CredentialBox, settings: HeraldSettings
) -> None:
    wrong = google_client(fake, "not-the-secret")
    async with httpx.AsyncClient() as client:
        adapter = GoogleBusinessAdapter(client, api_url=fake.url, oauth_client=wrong)
        access = await access_to(db, box, settings, expiring("x", -5))
        with pytest.raises(PermanentPublishError) as refused:
            await Tokens(db, box).fresh(access, adapter)
    assert refused.value.code == "oauth_invalid_client"


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (429, TransientPublishError, "rate_limited"),
        (503, TransientPublishError, "http_503"),
        (400, PermanentPublishError, "http_400"),
        (403, PermanentPublishError, "http_403"),
    ],
)
async def test_each_error_class(
    adapter: GoogleBusinessAdapter,
    fake: GoogleBusinessFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
    status: int,
    error: type[Exception],
    code: str,
) -> None:
    access = await access_to(db, box, settings, expiring(fake.mint(), 3000))
    fake.script.append(status)
    with pytest.raises(error) as raised:
        await Tokens(db, box).publish(access, adapter, POST, "job-5")
    assert getattr(raised.value, "code", None) == code


async def test_lookup_finds_the_post_an_uncertain_attempt_made(
    adapter: GoogleBusinessAdapter,
    fake: GoogleBusinessFake,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    access = await access_to(db, box, settings, expiring(fake.mint(), 3000))
    assert await adapter.lookup(access.target, "job-6", POST) is None
    name = await adapter.publish(access.target, POST, "job-6")
    other = Content("Another", "post", ())
    await adapter.publish(access.target, other, "job-7")
    assert await adapter.lookup(access.target, "job-6", POST) == name


async def test_media_google_would_refuse_fails_before_posting(
    adapter: GoogleBusinessAdapter,
    fake: GoogleBusinessFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    access = await access_to(db, box, settings, expiring(fake.mint(), 3000))
    gif = Content("t", "b", (f"{files}/files/a.gif?size=2000&type=image/gif",))
    with pytest.raises(PermanentPublishError) as refused:
        await adapter.publish(access.target, gif, "job-8")
    assert refused.value.code == "media_unsupported_type"
    big = Content("t", "b", (f"{files}/files/a.png?size=6000000&type=image/png",))
    with pytest.raises(PermanentPublishError) as refused:
        await adapter.publish(access.target, big, "job-9")
    assert refused.value.code == "media_too_large"
    assert fake.of(LOCATION) == []
