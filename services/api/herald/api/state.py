"""What request handlers share for the life of the process."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from herald.api.settings import ApiSettings
from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.outbox import OutboxRelay


@dataclass
class AppState:
    settings: ApiSettings
    db: Database
    relay: OutboxRelay
    credentials: CredentialBox


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.herald
    return state
