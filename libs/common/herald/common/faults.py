"""Fault points: places where a test can make a process crash, inert unless configured.

``HERALD_FAULT="publisher.after_platform_call:kill"`` makes the named point kill its own
process with SIGKILL (no cleanup, no flush: a real crash). Several points are separated by
commas. With ``HERALD_FAULT_MARKER=/path`` a point fires once: it creates the file first, and
a restarted process that finds it carries on normally.
"""

from __future__ import annotations

import os
import signal
from functools import cache
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

POINTS = frozenset(
    {
        "publisher.after_platform_call",  # the platform accepted the post; nothing recorded yet
        "api.after_commit",  # the approval committed; its events not relayed
        "relay.after_publish",  # JetStream has the events; the outbox rows not marked sent
        "alerter.mid_notification",  # the webhook endpoint answered; the try not recorded yet
    }
)


@cache
def _configured() -> dict[str, str]:
    raw = os.environ.get("HERALD_FAULT", "")
    faults = dict(item.split(":", 1) for item in raw.split(",") if ":" in item)
    unknown = set(faults) - POINTS
    if unknown:
        raise ValueError(f"HERALD_FAULT names unknown fault points: {', '.join(sorted(unknown))}")
    return faults


def fault_point(name: str) -> None:
    """Crash here if a test asked for it; otherwise do nothing (one dict lookup)."""
    action = _configured().get(name)
    if action is None:
        return
    marker = os.environ.get("HERALD_FAULT_MARKER")
    if marker:
        try:
            Path(marker).touch(exist_ok=False)
        except FileExistsError:
            return  # fired before this restart
    log.warning("fault.fired", point=name, action=action)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
