"""Why a use case refused; ``problems.install`` is the one place that maps these to HTTP."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal with a stable ``code``, a short ``title`` and details for the client."""

    def __init__(self, code: str, title: str, detail: str | None = None, **extra: Any):
        super().__init__(detail or title)
        self.code, self.title, self.detail, self.extra = code, title, detail, extra


class NotFound(ServiceError):
    """The entity does not exist for this tenant (another tenant's is not found either)."""

    def __init__(self, kind: str):
        super().__init__(f"{kind}_not_found", f"{kind.replace('_', ' ').capitalize()} not found")


class Invalid(ServiceError):
    """The request names things that do not exist or settings that cannot work."""


class Refused(ServiceError):
    """The entity's current state does not allow the command."""


class Unavailable(ServiceError):
    """Another part of Herald needed for the answer did not answer (HTTP 503)."""
