"""Error classes shared by every consumer; ``consumers.settle`` maps them to ack/nak/term."""

from __future__ import annotations


class HeraldError(Exception):
    """Base of Herald's own errors."""


class RetryLater(HeraldError):
    """Put the message back and deliver it again after ``delay_s``; not a failure.

    Raise it only where the database also records when the work is due (``next_attempt_at``,
    a lease, a reserved rate slot): waits longer than ``consumers.MAX_NAK_DELAY_S`` are acked
    and left to the recovery sweeps."""

    def __init__(self, delay_s: float, reason: str):
        super().__init__(reason)
        self.delay_s = delay_s
        self.reason = reason


class PoisonMessage(HeraldError):
    """A message no retry can fix (unreadable, unknown schema): terminate it and say so."""
