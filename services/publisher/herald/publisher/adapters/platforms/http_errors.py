"""Map HTTP answers and transport failures to the publish error classes (pure), and make a
platform call that raises them (``send``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from herald.publisher.domain.errors import (
    AuthExpiredError,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
)

MAX_RETRY_AFTER_S = 24 * 3600.0  # a platform asking for more is capped, not obeyed blindly


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Parse Retry-After as seconds or an HTTP date, capped at a day; None when unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return min(MAX_RETRY_AFTER_S, float(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(MAX_RETRY_AFTER_S, max(0.0, (when - now).total_seconds()))


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


def explained(error: PublishError, reason: object, limit: int = 500) -> PublishError:
    """``error`` with the platform's own words appended to its message (when it gave any)."""
    if isinstance(reason, str) and reason.strip():
        error.message = f"{error.message}: {reason.strip()}"[:limit]
        error.args = (error.message,)
    return error


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    refused: Callable[[httpx.Response], PublishError],
    **kwargs: Any,
) -> httpx.Response:
    """One platform call: a 2xx answer, or the publish error its failure means (a transport
    failure is transient; ``refused`` reads the platform's own error answer)."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        raise classify_transport(error) from error
    if response.is_success:
        return response
    raise refused(response)
