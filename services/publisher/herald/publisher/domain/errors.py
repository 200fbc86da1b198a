"""How a platform call can fail. Adapters raise these; ``retry_policy.decide`` reads them."""

from __future__ import annotations


class PublishError(Exception):
    """A platform refused or did not answer; ``code`` is stable, ``http_status`` if any."""

    error_class = "unknown"

    def __init__(self, code: str, message: str, *, http_status: int | None = None):
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status


class TransientPublishError(PublishError):
    """Worth retrying: network errors, timeouts, 5xx, 429 (``retry_after_s`` when told)."""

    error_class = "transient"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int | None = None,
        retry_after_s: float | None = None,
    ):
        super().__init__(code, message, http_status=http_status)
        self.retry_after_s = retry_after_s


class PermanentPublishError(PublishError):
    """Retrying cannot help: validation errors and other 4xx."""

    error_class = "permanent"


class AuthExpiredError(PublishError):
    """The channel's credentials were refused (401, invalid grant): it needs re-authorization."""

    error_class = "auth"
