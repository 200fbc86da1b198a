"""Which waiting job runs next when a worker slot frees up (pure).

Higher classes go first; a waiter that has waited longer than ``max_wait_s`` goes first
whatever its class, so low never starves behind a steady stream of high.
"""

from __future__ import annotations

from dataclasses import dataclass

RANK = {"high": 0, "normal": 1, "low": 2}


@dataclass(frozen=True)
class Waiter:
    priority: str
    since: float  # monotonic seconds when it started waiting
    seq: int  # arrival order, to break ties first-come first-served


def next_waiter(waiters: list[Waiter], now: float, max_wait_s: float) -> Waiter | None:
    """The waiter to admit next, or None when nobody waits."""
    if not waiters:
        return None
    starving = [w for w in waiters if now - w.since >= max_wait_s]
    if starving:
        return min(starving, key=lambda w: w.seq)
    return min(waiters, key=lambda w: (RANK.get(w.priority, 1), w.seq))
