"""Map HTTP answers and transport failures to the publish error classes. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Parse Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def classify_response(status: int, retry_after: str | None, now: datetime) -> PublishError:
    """The error a non-2xx answer means: 401 auth, 408/429/5xx transient, other 4xx permanent."""
    if status == 401:
        return AuthExpiredError(
            "unauthorized", "the platform refused the credentials", http_status=status
        )
    if status == 429:
        return TransientPublishError(
            "rate_limited",
            "the platform is rate limiting",
            http_status=status,
            retry_after_s=retry_after_seconds(retry_after, now),
        )
    if status == 408 or status >= 500:
        return TransientPublishError(
            f"http_{status}",
            f"the platform answered {status}",
            http_status=status,
            retry_after_s=retry_after_seconds(retry_after, now),
        )
    return PermanentPublishError(
        f"http_{status}", f"the platform refused the post ({status})", http_status=status
    )


def classify_transport(error: httpx.HTTPError) -> TransientPublishError:
    """Timeouts and connection failures are transient: the post may or may not exist."""
    code = "timeout" if isinstance(error, httpx.TimeoutException) else "network_error"
    return TransientPublishError(code, f"{type(error).__name__}: {error}")
