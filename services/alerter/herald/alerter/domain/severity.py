"""Alert severities, ordered; escalation moves one step up, never past critical."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"  # worth knowing, nothing is wrong yet
    WARNING = "warning"  # something failed and is being retried
    ERROR = "error"  # something failed for good: a post will not go out without help
    CRITICAL = "critical"  # failing over and over, or widely: act now

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def raised(self) -> Severity:
        """One level up, capped at critical."""
        return _ORDER[min(self.rank + 1, len(_ORDER) - 1)]


_ORDER = (Severity.INFO, Severity.WARNING, Severity.ERROR, Severity.CRITICAL)


def highest(*severities: Severity) -> Severity:
    return max(severities, key=lambda s: s.rank)
