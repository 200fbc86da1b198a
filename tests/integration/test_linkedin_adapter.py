"""The LinkedIn adapter against a contract fake of LinkedIn's versioned REST API and token
endpoint, over real HTTP; refreshes through the publisher's ``Tokens`` on a real channel row."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.oauth import OAuthClient
from herald.common.settings import HeraldSettings
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


async def test_video_is_refused_before_any_upload(
    adapter: LinkedInAdapter,
    fake: LinkedInFake,
    files: str,
    db: Database,
    box: CredentialBox,
    settings: HeraldSettings,
) -> None:
    given = await access(db, box, settings, fake.mint())
    video = Content("t", "b", (f"{files}/files/a.mp4?size=1000&type=video/mp4",))
    with pytest.raises(PermanentPublishError) as refused:
        await adapter.publish(given.target, video, "job-7")
    assert refused.value.code == "media_unsupported_type"
    assert fake.images == {}
