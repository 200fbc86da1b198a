"""What request handlers share for the life of the process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request

from herald.api.adapters.change_feed import ChangeFeeds
from herald.api.settings import ApiSettings
from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.oauth import OAuthClient
from herald.common.outbox import OutboxRelay


@dataclass
class AppState:
    settings: ApiSettings
    db: Database
    relay: OutboxRelay
    credentials: CredentialBox
    nats_ping: Callable[[], Awaitable[None]]  # a flush round trip; raises when NATS is away
    # a core NATS request (subject, payload, headers, seconds to wait) → the answer's payload
    ask: Callable[[str, bytes, dict[str, str], float], Awaitable[bytes]]
    changes: ChangeFeeds  # the tenants' live updates (GET /v1/events)
    oauth_clients: dict[str, OAuthClient] = field(default_factory=dict)  # connect flows


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.herald
    return state
