"""The alerting policy: every tunable that the pure decisions take, with its default."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlertPolicy:
    """What the alerter decides with; the alerter's settings build one.

    - ``dedup_window_s`` (5 min): repeats of an open alert inside it are counted toward
      escalation; a repeat never opens a second alert while one is open.
    - ``escalate_after`` (3): that many repeats inside one window raise the severity one level.
    - ``failure_rate_threshold`` (0.5) over ``failure_rate_min_attempts`` (10) attempts in the
      window: a channel's open failure alert escalates one level (at most once a window); a
      platform whose rate is over it on ``platform_min_channels`` (3) of a tenant's channels
      raises a platform alert, which inhibits the channels' own notifications.
    - ``quiet_resolve_s`` (30 min): an alert with no new occurrence for that long resolves
      itself (``auto``, reason ``quiet``).
    - ``oldest_queued_s`` (5 min), ``stuck_processing_s`` (15 min), ``heartbeat_stale_s``
      (30 s): thresholds of the rules evaluated from the database.
    """

    dedup_window_s: float = 300.0
    escalate_after: int = 3
    failure_rate_threshold: float = 0.5
    failure_rate_min_attempts: int = 10
    platform_min_channels: int = 3
    quiet_resolve_s: float = 1800.0
    oldest_queued_s: float = 300.0
    stuck_processing_s: float = 900.0
    heartbeat_stale_s: float = 30.0
