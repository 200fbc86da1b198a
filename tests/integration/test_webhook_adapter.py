"""The generic webhook channel: the post as JSON, signed the Standard Webhooks way, against a
real receiver that verifies signatures as a tenant's would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from herald.common.webhooks import new_secret
from herald.publisher.adapters.platforms.base import Content, Target
from herald.publisher.adapters.platforms.webhook import WebhookAdapter
from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    TransientPublishError,
)
from tests.webhook_receiver import Receiver, webhook_receiver

POST = Content("Grand opening", "Doors open at 9.", ("https://cdn.example/poster.png",))


@pytest.fixture
async def adapter() -> AsyncIterator[WebhookAdapter]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield WebhookAdapter(client, allow_private=True)


def target(receiver: Receiver, secret: str) -> Target:
    return Target({"url": receiver.url}, {"secret": secret})


async def test_the_post_arrives_signed_with_the_job_id_as_webhook_id(
    adapter: WebhookAdapter,
) -> None:
    secret, job_id = new_secret(), str(uuid.uuid4())
    async with webhook_receiver() as receiver:
        external_id = await adapter.publish(target(receiver, secret), POST, job_id)
        again = await adapter.publish(target(receiver, secret), POST, job_id)
    first, second = receiver.received
    assert first.verifies_with(secret)
    assert not first.verifies_with(new_secret())
    assert first.webhook_id == second.webhook_id == job_id  # the receiver drops the repeat
    assert first.type == "post.publish"
    assert first.json["data"] == {
        "post_id": job_id,
        "title": "Grand opening",
        "body": "Doors open at 9.",
        "media": [{"url": "https://cdn.example/poster.png"}],
    }
    assert external_id == again == job_id  # the receiver named no id of its own


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (503, TransientPublishError),
        (429, TransientPublishError),
        (401, AuthExpiredError),
        (410, PermanentPublishError),
    ],
)
async def test_each_answer_maps_to_its_error_class(
    adapter: WebhookAdapter, status: int, error: type[Exception]
) -> None:
    async with webhook_receiver([status]) as receiver:
        with pytest.raises(error):
            await adapter.publish(target(receiver, new_secret()), POST, str(uuid.uuid4()))


async def test_a_private_url_is_refused_unless_allowed() -> None:
    async with httpx.AsyncClient() as client, webhook_receiver() as receiver:
        with pytest.raises(PermanentPublishError) as refused:
            await WebhookAdapter(client).publish(
                target(receiver, new_secret()), POST, str(uuid.uuid4())
            )
    assert refused.value.code == "webhook_url_forbidden"
    assert receiver.received == []
