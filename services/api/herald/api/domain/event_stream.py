"""Server-Sent Events of ``GET /v1/events``: where a stream resumes, and how frames are written.

Pure: no I/O. An event's id is its sequence in the CHANGES stream, so ``Last-Event-ID`` says
exactly where a reconnecting client left off. Ids grow but skip (the stream holds every
tenant's changes; a tenant sees only its own).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_SEQUENCE = 2**64 - 1  # JetStream sequences are unsigned 64-bit
_DIGITS = re.compile(r"[0-9]{1,20}")


class InvalidEventId(ValueError):
    """A Last-Event-ID that no stream of ours could have sent."""


def parse_last_event_id(value: str | None) -> int | None:
    """The sequence a client last saw, or None for a fresh start (empty or absent)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not _DIGITS.fullmatch(text) or int(text) > MAX_SEQUENCE:
        raise InvalidEventId(f"expected a non-negative integer event id, got {value[:40]!r}")
    return int(text)


@dataclass(frozen=True)
class ResumePoint:
    """Where a stream starts (``start``, a stream sequence) and whether that is not where the
    client asked to resume (``reset``: what it missed is no longer kept, or the stream was
    recreated), in which case the client should reload its state before trusting the stream."""

    start: int
    reset: bool = False

    @property
    def last_event_id(self) -> int:
        """The id that stands for "everything before ``start``"."""
        return self.start - 1


def resume_point(after: int | None, first_seq: int, last_seq: int) -> ResumePoint:
    """Start after ``after``; a fresh client (None) starts with what comes next.

    ``first_seq``/``last_seq`` are the stream's oldest and newest sequences (an empty stream
    reports first = last + 1, or 0 and 0 before its first message).
    """
    oldest = max(first_seq, 1)
    if after is None:
        return ResumePoint(last_seq + 1)
    if after > last_seq:  # not ours to have sent: the stream was recreated since
        return ResumePoint(oldest, reset=True)
    if after + 1 < oldest:  # some of what followed has aged out
        return ResumePoint(oldest, reset=True)
    return ResumePoint(after + 1)


def frame(*, event: str | None = None, data: Any = None, event_id: int | None = None) -> bytes:
    """One SSE message; ``data`` is sent as compact JSON."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event is not None:
        lines.append(f"event: {event}")
    if data is not None:
        text = json.dumps(data, separators=(",", ":"), default=str)
        lines += [f"data: {line}" for line in text.splitlines()]
    return ("\n".join(lines) + "\n\n").encode()


def comment(text: str) -> bytes:
    """A comment line: clients ignore it, proxies see traffic (a keep-alive)."""
    return f": {text}\n\n".encode()
