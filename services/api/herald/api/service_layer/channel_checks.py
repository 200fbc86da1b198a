"""``POST /v1/channels/{id}/verify``: the publisher checks the credentials with the platform.

The API never calls a platform; it asks a publisher over NATS (``herald.common.channel_checks``)
and waits for the verdict. A refusal has already marked the channel ``reauth_required``; a
channel that was ``reauth_required`` and now passes goes back to ``ok`` and its parked jobs
resume, as with new credentials.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

import nats.errors
from opentelemetry import propagate

from herald.api.auth import Principal
from herald.api.service_layer import audit, channels
from herald.api.service_layer.errors import NotFound, Unavailable
from herald.api.service_layer.job_control import resume_waiting_auth
from herald.api.state import AppState
from herald.common.channel_checks import (
    REFRESH_SUBJECT,
    VERIFY_SUBJECT,
    ChannelVerdict,
    VerifyChannel,
)
from herald.common.db.models import Channel, OutboxMessage, PublishJob

ACTIONS = {VERIFY_SUBJECT: "channel.verified", REFRESH_SUBJECT: "channel.tokens_refreshed"}


class PublisherUnavailable(Unavailable):
    """No publisher answered in time: nothing is known about the credentials."""

    def __init__(self, detail: str):
        super().__init__("publisher_unavailable", "No publisher answered; retry shortly", detail)


@dataclass(frozen=True)
class Checked:
    channel: Channel
    verdict: ChannelVerdict
    resumed: int


async def check(
    state: AppState,
    who: Principal,
    channel_id: uuid.UUID,
    now: datetime,
    subject: str = VERIFY_SUBJECT,
) -> Checked:
    """Ask a publisher on ``subject`` (verify, or refresh) about the tenant's channel."""
    async with state.db.transaction(who.tenant_id) as session:
        await channels.locked(session, who.tenant_id, channel_id)  # 404 before asking
    question = VerifyChannel(tenant_id=who.tenant_id, channel_id=channel_id)
    verdict = await _ask(state, subject, question)
    if verdict.outcome == "not_found":  # deleted meanwhile
        raise NotFound("channel")
    staged: list[OutboxMessage] = []
    resumed: list[PublishJob] = []
    async with state.db.transaction(who.tenant_id) as session:
        channel = await channels.locked(session, who.tenant_id, channel_id)
        # resumed only if the verdict is about the credentials stored now, not older ones
        current = hashlib.sha256(channel.credentials_ciphertext or b"").hexdigest()
        passed = verdict.outcome == "ok" and verdict.checked == current
        if passed and channel.auth_state == channels.AuthState.REAUTH_REQUIRED:
            channel.auth_state = channels.AuthState.OK
            resumed, staged = await resume_waiting_auth(session, who.tenant_id, channel.id, now)
        audit.record(
            session,
            who.tenant_id,
            who,
            ACTIONS[subject],
            "channel",
            channel_id,
            outcome=verdict.outcome,
            error_code=verdict.error_code,
        )
        await session.flush()
    await state.relay.send(staged)
    return Checked(channel, verdict, len(resumed))


async def _ask(state: AppState, subject: str, question: VerifyChannel) -> ChannelVerdict:
    headers: dict[str, str] = {}
    propagate.inject(headers)  # the publisher's span joins the request's trace
    try:
        answer = await state.ask(
            subject,
            question.model_dump_json().encode(),
            headers,
            state.settings.channel_check_timeout_s,
        )
    except nats.errors.NoRespondersError:
        raise PublisherUnavailable("no publisher is running") from None
    except (nats.errors.TimeoutError, TimeoutError):
        raise PublisherUnavailable(
            f"no answer within {state.settings.channel_check_timeout_s:g} s"
        ) from None
    except (nats.errors.ConnectionClosedError, ConnectionError):
        raise PublisherUnavailable("NATS is not reachable") from None
    return ChannelVerdict.model_validate_json(answer)
