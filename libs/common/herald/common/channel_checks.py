"""Asking the publisher to check a channel's credentials with its platform, now.

Adapters live in the publisher; no other service calls a platform. So ``POST
/v1/channels/{id}/verify`` is a NATS request on ``VERIFY_SUBJECT`` (core NATS, not JetStream:
the question is worth nothing once its asker has gone), answered by one publisher of the
``publishers`` queue group. The publisher records the verdict on the channel (``auth_state``)
before it answers.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

VERIFY_SUBJECT = "herald.rpc.channels.verify"
REFRESH_SUBJECT = "herald.rpc.channels.refresh"  # the same question: new OAuth tokens now
VERIFY_QUEUE = "publishers"


class VerifyChannel(BaseModel):
    """The question: the tenant (from the caller's key) and its channel."""

    tenant_id: uuid.UUID
    channel_id: uuid.UUID


class ChannelVerdict(BaseModel):
    """The answer: ``ok`` with the platform's name for the account, or why not.

    ``outcome``: ``ok``; ``refused`` (the platform refused the credentials: the channel is now
    ``reauth_required``); ``unreachable`` (the platform did not answer or failed: nothing is
    known, nothing changed); ``not_found`` (no such channel of that tenant);
    ``unsupported`` (the platform has no way to check credentials).
    """

    outcome: Literal["ok", "refused", "unreachable", "not_found", "unsupported"]
    auth_state: str | None = None
    account: str | None = None
    error_code: str | None = None
    message: str | None = None
    checked: str | None = None  # SHA-256 of the sealed credentials the verdict is about
    token_expires_at: str | None = None  # after a refresh
