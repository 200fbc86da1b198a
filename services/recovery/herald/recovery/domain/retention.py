"""How long finished bookkeeping is kept before the recovery service prunes it (pure).

Only rows whose work is over are ever pruned: outbox rows JetStream confirmed, inbox rows past
any redelivery (JetStream's duplicate window and max age are far shorter), attempts of jobs in
a final state, and webhook deliveries that finished. The defaults keep a month of audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DAY = 86400.0


@dataclass(frozen=True)
class RetentionCutoffs:
    outbox_sent_before: datetime
    inbox_received_before: datetime
    attempts_finished_before: datetime
    deliveries_finished_before: datetime


@dataclass(frozen=True)
class RetentionPolicy:
    """``outbox_s`` and ``inbox_s`` (7 days), ``attempts_s`` and ``deliveries_s`` (30 days);
    ``batch_size`` (5,000) rows per table per pass, so a backlog is pruned in steps."""

    outbox_s: float = 7 * DAY
    inbox_s: float = 7 * DAY
    attempts_s: float = 30 * DAY
    deliveries_s: float = 30 * DAY
    batch_size: int = 5000

    def cutoffs(self, now: datetime) -> RetentionCutoffs:
        return RetentionCutoffs(
            outbox_sent_before=now - timedelta(seconds=self.outbox_s),
            inbox_received_before=now - timedelta(seconds=self.inbox_s),
            attempts_finished_before=now - timedelta(seconds=self.attempts_s),
            deliveries_finished_before=now - timedelta(seconds=self.deliveries_s),
        )
