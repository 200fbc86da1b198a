"""The catalog of platforms this deployment knows: metadata only, no I/O.

The API validates channels against it and serves it at ``GET /v1/platforms``; the publisher
pairs each entry with its adapter.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from herald.common.url_guard import UnsafeUrl, check_url


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``per_period`` posts every ``period_s`` seconds, bursting to ``burst``."""

    per_period: int
    period_s: float
    burst: int


@dataclass(frozen=True)
class PlatformInfo:
    name: str
    title: str
    lookup: bool  # can find a post by our idempotency key (exact reconciliation)
    oauth: bool
    media: bool
    required_config: tuple[str, ...]
    required_credentials: tuple[str, ...]
    rate_limit: RateLimit
    url_config: tuple[str, ...] = ()  # config keys holding URLs the publisher calls (SSRF-checked)
    formats: tuple[tuple[str, str], ...] = ()  # (config or credential key, full-match regex)
    any_config: tuple[str, ...] = ()  # at least one of these config keys must be set
    inventory: bool = False  # the account's screens and playlists are synced periodically


SANDBOX = PlatformInfo(
    name="sandbox",
    title="Herald sandbox",
    lookup=True,
    oauth=False,
    media=True,
    required_config=("account",),
    required_credentials=("token",),
    rate_limit=RateLimit(per_period=100, period_s=1.0, burst=200),
)

MASTODON = PlatformInfo(
    name="mastodon",
    title="Mastodon",
    # No search by Idempotency-Key; a retry within the hour the instance keeps keys gets the
    # first status back instead of a second one.
    lookup=False,
    oauth=False,  # an access token with write:statuses and write:media; it does not expire
    media=True,
    required_config=("instance_url",),
    required_credentials=("access_token",),
    # 300 API calls per 5 minutes per account; a post with up to 4 media makes up to 5 calls.
    rate_limit=RateLimit(per_period=60, period_s=300.0, burst=10),
    url_config=("instance_url",),
)

GOOGLE_BUSINESS = PlatformInfo(
    name="google_business",
    title="Google Business Profile",
    lookup=True,  # no idempotency key: a recent post with the same summary
    oauth=True,  # access tokens live an hour; refreshed with the refresh token
    media=True,  # photos and videos, fetched by Google from their URLs
    required_config=("location",),
    required_credentials=("access_token", "refresh_token"),
    # Google allows about 10 edits a minute per location.
    rate_limit=RateLimit(per_period=10, period_s=60.0, burst=5),
    formats=(("location", r"accounts/\d+/locations/\d+"),),
)

WEBHOOK = PlatformInfo(
    name="webhook",
    title="Webhook",
    lookup=False,  # the receiver drops repeats by webhook-id (the job id)
    oauth=False,
    media=True,  # media URLs travel in the JSON
    required_config=("url",),
    required_credentials=("secret",),
    rate_limit=RateLimit(per_period=10, period_s=1.0, burst=20),
    url_config=("url",),
    # Standard Webhooks: "whsec_" and the base64 of 24 to 64 random bytes
    formats=(("secret", r"whsec_[A-Za-z0-9+/]{32,88}={0,2}"),),
)

X = PlatformInfo(
    name="x",
    title="X",
    lookup=True,  # no idempotency key: our text among the account's latest posts
    oauth=True,  # OAuth 2 with PKCE; refresh tokens rotate
    media=True,  # chunked upload of images, GIFs and video
    required_config=(),
    required_credentials=("access_token", "refresh_token"),
    rate_limit=RateLimit(per_period=50, period_s=86400.0, burst=5),  # posts a day per account
)

LINKEDIN = PlatformInfo(
    name="linkedin",
    title="LinkedIn",
    lookup=True,  # no idempotency key: our text among the author's latest posts
    oauth=True,  # 60-day access tokens; refresh tokens for the apps LinkedIn allows them
    media=True,  # images (one, or two to twenty), or one MP4 video alone
    required_config=("author",),
    required_credentials=("access_token",),
    # about 150 posts a day per member or organization
    rate_limit=RateLimit(per_period=150, period_s=86400.0, burst=10),
    formats=(("author", r"urn:li:(organization|person):[A-Za-z0-9_-]+"),),
)

YODECK = PlatformInfo(
    name="yodeck",
    title="Yodeck",
    lookup=True,  # the media are named with our key: found exactly, and their playlist checked
    oauth=False,  # an API token ("label:token") from the account's settings; it does not expire
    media=True,  # digital signage shows media: a post needs at least one image or video
    required_config=(),
    required_credentials=("api_token",),
    # Yodeck publishes no figure; a post makes about four calls per file and two per playlist,
    # so thirty posts a minute keeps a busy channel near two hundred calls a minute.
    rate_limit=RateLimit(per_period=30, period_s=60.0, burst=5),
    # playlist: the one to add to; screens: ids whose current playlist gets the media
    any_config=("playlist", "screens"),
    inventory=True,
    formats=(
        ("playlist", r"\d+"),
        ("screens", r"\d+(,\d+)*"),
        ("duration_s", r"[1-9]\d{0,4}"),
        ("api_token", r"[^:\s]+:[^:\s]+"),
    ),
)

CATALOG: dict[str, PlatformInfo] = {
    p.name: p for p in (SANDBOX, MASTODON, GOOGLE_BUSINESS, X, LINKEDIN, WEBHOOK, YODECK)
}


def config_problems(
    platform: PlatformInfo, config: dict[str, object], *, allow_private: bool = False
) -> list[str]:
    """What is missing or wrong in a channel's config, as readable messages. URLs the
    publisher will call must be http(s) and, unless ``allow_private``, name no loopback,
    private or link-local address (the SSRF guard of webhook endpoints)."""
    problems = [
        f"config.{key} is required for {platform.name}"
        for key in platform.required_config
        if not isinstance(config.get(key), str) or not config.get(key)
    ]
    if platform.any_config and not any(
        isinstance(config.get(key), str) and config.get(key) for key in platform.any_config
    ):
        problems.append(f"config needs one of {', '.join(platform.any_config)} for {platform.name}")
    problems += _format_problems(platform, "config", config)
    for key in platform.url_config:
        if isinstance(url := config.get(key), str) and url:
            try:
                check_url(url, allow_private)
            except UnsafeUrl as refused:
                problems.append(f"config.{key}: {refused.reason}")
    if "rate_limit" in config and channel_rate_limit(config) is None:
        problems.append(
            "config.rate_limit must be {per_period: int ≥ 1, period_s: number > 0, burst: int ≥ 1}"
        )
    return problems


def channel_rate_limit(config: dict[str, object]) -> RateLimit | None:
    """A channel's own limit (``config.rate_limit``), e.g. a tenant's lower plan; None if unset
    or malformed."""
    raw = config.get("rate_limit")
    if not isinstance(raw, dict):
        return None
    per_period, period_s, burst = raw.get("per_period"), raw.get("period_s"), raw.get("burst")
    valid = (
        isinstance(per_period, int)
        and per_period >= 1
        and isinstance(period_s, int | float)
        and period_s > 0
        and isinstance(burst, int)
        and burst >= 1
    )
    return RateLimit(per_period, float(period_s), burst) if valid else None  # type: ignore[arg-type]


CHANNEL_KEY = "channel:"
"""The prefix of a channel's rate-limit bucket key (the publisher also builds it in SQL)."""


def channel_key(channel_id: uuid.UUID) -> str:
    """The rate-limit bucket of a channel's calls."""
    return f"{CHANNEL_KEY}{channel_id}"


def effective_rate_limit(platform: PlatformInfo, config: dict[str, object]) -> RateLimit:
    """The channel's own limit where it sets one, else the platform's default."""
    return channel_rate_limit(config) or platform.rate_limit


def credential_problems(platform: PlatformInfo, credentials: dict[str, object]) -> list[str]:
    missing = [
        f"credentials.{key} is required for {platform.name}"
        for key in platform.required_credentials
        if not isinstance(credentials.get(key), str) or not credentials.get(key)
    ]
    return missing + _format_problems(platform, "credentials", credentials)


def _format_problems(platform: PlatformInfo, where: str, values: dict[str, object]) -> list[str]:
    """Values present but not in their platform's format (a credential's value is not shown)."""
    return [
        f"{where}.{key} is not in the form {platform.name} expects"
        + ("" if where == "credentials" else f" ({pattern})")
        for key, pattern in platform.formats
        if isinstance(value := values.get(key), str)
        and value
        and re.fullmatch(pattern, value) is None
    ]
