"""The catalog of platforms this deployment knows: metadata only, no I/O.

The API validates channels against it and serves it at ``GET /v1/platforms``; the publisher
pairs each entry with its adapter.
"""

from __future__ import annotations

from dataclasses import dataclass


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

CATALOG: dict[str, PlatformInfo] = {p.name: p for p in (SANDBOX,)}


def config_problems(platform: PlatformInfo, config: dict[str, object]) -> list[str]:
    """What is missing from a channel's config or credentials, as readable messages."""
    return [
        f"config.{key} is required for {platform.name}"
        for key in platform.required_config
        if not isinstance(config.get(key), str) or not config.get(key)
    ]


def credential_problems(platform: PlatformInfo, credentials: dict[str, object]) -> list[str]:
    return [
        f"credentials.{key} is required for {platform.name}"
        for key in platform.required_credentials
        if not isinstance(credentials.get(key), str) or not credentials.get(key)
    ]
