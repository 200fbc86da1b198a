"""Tests of herald.common.webhook_signing and herald.common.webhooks: secrets, bodies, signatures,
verified with standardwebhooks as a receiver would."""

from __future__ import annotations

import base64
import json
import typing
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from herald.api.schemas import WebhookEventType
from herald.common import webhook_signing as signing
from herald.common.credentials import CredentialBox, CredentialKeyError
from herald.common.settings import DEV_CREDENTIAL_KEY
from herald.common.webhooks import EVENT_TYPES, new_secret, open_secret, render_body, seal_secret

DELIVERY = uuid.UUID("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
BODY = render_body("alert.raised", datetime(2026, 12, 1, 9, 30, tzinfo=UTC), {"alert": {"id": 1}})


def test_secrets_are_valid_base64_of_32_random_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_secrets_are_sealed_at_rest() -> None:
    box = CredentialBox.from_setting(f"dev:{DEV_CREDENTIAL_KEY}")
    secret = new_secret()
    sealed = seal_secret(box, secret)
    assert secret.encode() not in sealed.ciphertext
    assert open_secret(box, sealed.ciphertext, sealed.key_id) == secret
    with pytest.raises(CredentialKeyError):
        open_secret(box, box.seal({"token": "x"}).ciphertext, "dev")


def test_the_body_is_compact_standard_webhooks_json() -> None:
    when = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    body = render_body("alert.resolved", when, {"id": DELIVERY, "at": when, "n": 2})
    assert b" " not in body
    assert json.loads(body) == {
        "type": "alert.resolved",
        "timestamp": "2026-12-01T10:30:00Z",
        "data": {"id": str(DELIVERY), "at": "2026-12-01T10:30:00Z", "n": 2},
    }


def test_event_types_match_what_the_api_accepts() -> None:
    assert set(typing.get_args(WebhookEventType)) == set(EVENT_TYPES)


def test_a_signed_try_verifies_with_standardwebhooks() -> None:
    secret, now = new_secret(), datetime.now(UTC)
    headers = signing.headers(DELIVERY, BODY, now, [secret])
    assert headers["webhook-id"] == str(DELIVERY)
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert " " not in headers["webhook-signature"]
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Herald-Webhooks/1"
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"raised", b"resolved"), headers)


def test_during_a_rotation_both_secrets_verify_alone() -> None:
    new, old, now = new_secret(), new_secret(), datetime.now(UTC)
    secrets = signing.signing_secrets(new, old, now + timedelta(hours=24), now)
    assert secrets == [new, old]
    headers = signing.headers(DELIVERY, BODY, now, secrets)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert all(s.startswith("v1,") for s in headers["webhook-signature"].split(" "))
    for secret in (new, old):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


@pytest.mark.parametrize(
    ("previous", "expires_in_s", "signers"),
    [
        (None, None, 1),
        ("old", None, 1),
        ("old", 3600, 2),
        ("old", 0, 1),  # expired at this very moment
        ("old", -1, 1),
    ],
)
def test_the_previous_secret_signs_until_it_expires(
    previous: str | None, expires_in_s: float | None, signers: int
) -> None:
    now = datetime.now(UTC)
    expires = None if expires_in_s is None else now + timedelta(seconds=expires_in_s)
    assert len(signing.signing_secrets("new", previous, expires, now)) == signers


def test_the_timestamp_is_the_try_and_old_tries_are_refused() -> None:
    secret = new_secret()
    stale = signing.headers(DELIVERY, BODY, datetime.now(UTC) - timedelta(minutes=10), [secret])
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, stale)
    retried = signing.headers(DELIVERY, BODY, datetime.now(UTC), [secret])
    assert retried["webhook-id"] == stale["webhook-id"]
    Webhook(secret).verify(BODY, retried)


def test_a_delivery_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        signing.signature([], "id", datetime.now(UTC), BODY)
