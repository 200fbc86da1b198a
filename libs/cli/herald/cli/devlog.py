"""Readable, prefixed log lines for ``herald dev``: services log JSON; people read this."""

from __future__ import annotations

import json
import sys
import threading

COLORS = {"sandbox": 35, "api": 36, "publisher": 32, "alerter": 33, "recovery": 34, "herald": 37}
QUIET_KEYS = {"event", "level", "timestamp", "service", "color_message", "logger"}
_lock = threading.Lock()


def render(line: str) -> str:
    """A JSON log line as ``level event key=value …``; anything else unchanged."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    extras = " ".join(f"{k}={v}" for k, v in record.items() if k not in QUIET_KEYS)
    return f"{str(record.get('level', '')).upper():7} {record.get('event', '')} {extras}".rstrip()


def print_line(service: str, line: str) -> None:
    color = COLORS.get(service, 37)
    prefix = f"\033[{color}m{service:>9}\033[0m |" if sys.stdout.isatty() else f"{service:>9} |"
    with _lock:
        print(f"{prefix} {render(line)}", flush=True)
