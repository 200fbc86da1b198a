"""Idempotent POSTs: what a repeated ``Idempotency-Key`` gets (pure).

A key is recorded per API key with the request's fingerprint (method, path, body digest). While
its first request runs the record is *in progress*, held until ``locked_until``; a record still
in progress after that belongs to a request that died with its process, and a retry of the same
request takes it over. Once answered, the record holds the response, replayed to every repeat
of the same request until it expires; the same key on another request is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
IN_PROGRESS_RETRY_AFTER_S = 1
"""Retry-After for a repeat that arrives while the first request runs: most finish within it."""

NOT_REPLAYED_HEADERS = frozenset(
    {
        "content-length",  # recomputed for the replay
        "date",
        "server",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "idempotent-replayed",
    }
)
"""Response headers that describe one delivery rather than the outcome, so are not stored."""


class InvalidKey(ValueError):
    """The Idempotency-Key header is not 1 to 255 printable ASCII characters."""


def parse_key(values: list[str]) -> str:
    """The one Idempotency-Key a request carries, or ``InvalidKey`` saying what is wrong."""
    if len(values) != 1:
        raise InvalidKey("send exactly one Idempotency-Key header")
    value = values[0]
    if not 1 <= len(value) <= MAX_KEY_LENGTH:
        raise InvalidKey(f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters")
    if not all(" " <= char <= "~" for char in value):
        raise InvalidKey("an Idempotency-Key has printable ASCII characters only")
    return value


@dataclass(frozen=True)
class Fingerprint:
    """What makes two requests "the same request" for one key."""

    method: str
    path: str  # with the query string, if any
    body_sha256: bytes

    @classmethod
    def of(cls, method: str, path: str, body: bytes) -> Fingerprint:
        return cls(method, path, hashlib.sha256(body).digest())


@dataclass(frozen=True)
class Record:
    fingerprint: Fingerprint
    status: int | None  # the stored response's; None while in progress
    locked_until: datetime | None
    expires_at: datetime


class Verdict(StrEnum):
    TAKE_OVER = "taken_over"  # expired, or in progress past its lock: this request runs it
    REPLAY = "replayed"  # answered before: send the stored response again
    REUSED = "key_reused"  # the key was used for another request: refuse (409)
    IN_PROGRESS = "in_progress"  # the first request still runs: refuse (409, Retry-After)


def judge(record: Record | None, request: Fingerprint, now: datetime) -> Verdict:
    """What a request gets whose key is already recorded as ``record`` (None: it just vanished,
    released by a request that failed; the client retries as if it were still running)."""
    if record is None:
        return Verdict.IN_PROGRESS
    if record.expires_at <= now:
        return Verdict.TAKE_OVER  # as if absent: it is only waiting to be pruned
    if record.fingerprint != request:
        return Verdict.REUSED
    if record.status is not None:
        return Verdict.REPLAY
    if record.locked_until is not None and record.locked_until > now:
        return Verdict.IN_PROGRESS
    return Verdict.TAKE_OVER


def stored(status: int) -> bool:
    """Whether a response is kept for replay: not a server error, which the client may retry."""
    return status < 500


def replayed_headers(raw: list[tuple[bytes, bytes]]) -> list[list[str]]:
    """The response headers stored for a replay, in order (names lower-cased)."""
    pairs = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw]
    return [[name, value] for name, value in pairs if name not in NOT_REPLAYED_HEADERS]
