"""Standard Webhooks signatures and headers of one try of a delivery: the alerter's
notifications and the publisher's webhook channels.

``webhook-id`` is the delivery id as a plain UUID string (the ``id`` the delivery log shows), the
same on every try so a receiver can drop repeats; ``webhook-timestamp`` is the unix time of *this*
try (receivers refuse a timestamp more than five minutes off); ``webhook-signature`` is
``v1,<base64 HMAC-SHA256>`` — two of them, space-separated, while a rotated-out secret still
signs, so a receiver that has not switched to the new secret yet keeps verifying.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

USER_AGENT = "Herald-Webhooks/1"


def webhook_id(delivery_id: uuid.UUID) -> str:
    return str(delivery_id)


def signing_secrets(
    current: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The secrets that sign a try at ``now``: the current one, and the previous one until it
    expires."""
    if previous is not None and previous_expires_at is not None and now < previous_expires_at:
        return [current, previous]
    return [current]


def signature(secrets: Sequence[str], msg_id: str, timestamp: datetime, body: bytes) -> str:
    """``v1,<sig>`` per secret, space-separated (the ``webhook-signature`` header)."""
    if not secrets:
        raise ValueError("a delivery needs at least one secret to be signed with")
    text = body.decode()
    return " ".join(Webhook(secret).sign(msg_id, timestamp, text) for secret in secrets)


def headers(
    delivery_id: uuid.UUID, body: bytes, timestamp: datetime, secrets: Sequence[str]
) -> dict[str, str]:
    """Every header of one try; ``timestamp`` is now (the try's own time, in UTC)."""
    moment = timestamp.astimezone(UTC)
    msg_id = webhook_id(delivery_id)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature(secrets, msg_id, moment, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
