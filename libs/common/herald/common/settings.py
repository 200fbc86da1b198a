"""Settings read from ``HERALD_*`` environment variables.

One model for what every service shares; each service subclasses it with its own fields only.
A bad or missing value stops start-up with one line naming the variable (``load_settings``).
"""

from __future__ import annotations

import sys
from typing import TypeVar

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_CREDENTIAL_KEY = "ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZHU="  # public: development only
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-operator-token"})


class HeraldSettings(BaseSettings):
    """What every Herald service needs: where the database and NATS are, and how to behave."""

    model_config = SettingsConfigDict(env_prefix="HERALD_", extra="ignore", frozen=True)

    environment: str = Field("development", description="development | test | production")
    service_name: str = Field("herald", description="name used in logs, heartbeats and metrics")
    instance_id: str = Field("", description="unique per process; defaults to host:pid")
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/herald",
        description="SQLAlchemy async URL of the PostgreSQL database",
    )
    db_pool_size: int = Field(10, ge=1)
    nats_url: str = Field("nats://127.0.0.1:4222", description="comma-separated NATS server URLs")
    nats_monitor_url: str = Field(
        "", description="nats-server monitoring URL, to log JetStream's fsync setting"
    )
    stream_replicas: int = Field(1, ge=1, le=5)
    stream_max_age_s: float = Field(7 * 24 * 3600, gt=0)
    stream_duplicate_window_s: float = Field(120, gt=0)
    changes_max_age_s: float = Field(
        24 * 3600,
        gt=0,
        description="how long the CHANGES stream keeps live updates: how far back a client of "
        "GET /v1/events can resume with Last-Event-ID",
    )
    consumer_ack_wait_s: float = Field(30, gt=0)
    consumer_max_deliver: int = Field(20, ge=1)
    consumer_max_ack_pending: int = Field(1000, ge=1)
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535, description="port of /healthz, /readyz, /metrics")
    log_level: str = "INFO"
    heartbeat_interval_s: float = Field(5, gt=0)
    outbox_poll_interval_s: float = Field(1.0, gt=0)
    credential_keys: str = Field(
        f"dev:{DEV_CREDENTIAL_KEY}",
        description="AES-GCM key ring for channel credentials: kid:base64(32 bytes),…",
    )
    credential_active_key: str | None = Field(None, description="key id for new writes")
    outbox_grace_s: float = Field(
        2.0, ge=0, description="age before the background relay takes over an unsent row"
    )
    outbox_mark_linger_s: float = Field(
        0.1,
        ge=0,
        description="how long the fast path gathers sent marks to write them as one statement "
        "(keep it well under outbox_grace_s: past the grace, a row not yet marked is published "
        "again, and deduplicated by JetStream)",
    )
    metrics_tenant_labels: bool = Field(
        False,
        description="also export per-tenant series (herald_tenant_jobs): one per tenant and "
        "status, so only where the number of tenants is small",
    )
    # Herald's OAuth clients: the API connects channels with them, the publisher refreshes.
    google_authorize_url: str = Field(
        "https://accounts.google.com/o/oauth2/v2/auth", description="Google's consent screen"
    )
    google_token_url: str = Field(
        "https://oauth2.googleapis.com/token", description="Google's OAuth 2 token endpoint"
    )
    google_client_id: str = Field("", description="Herald's OAuth client id at Google")
    google_client_secret: str = Field(
        "", description="Herald's OAuth client secret at Google (never logged)", repr=False
    )
    x_authorize_url: str = Field(
        "https://x.com/i/oauth2/authorize", description="X's OAuth 2 consent screen"
    )
    x_token_url: str = Field(
        "https://api.x.com/2/oauth2/token", description="X's OAuth 2 token endpoint"
    )
    x_client_id: str = Field("", description="Herald's OAuth 2 client id at X")
    x_client_secret: str = Field(
        "", description="Herald's OAuth 2 client secret at X (never logged)", repr=False
    )
    linkedin_authorize_url: str = Field(
        "https://www.linkedin.com/oauth/v2/authorization",
        description="LinkedIn's OAuth 2 consent screen",
    )
    linkedin_token_url: str = Field(
        "https://www.linkedin.com/oauth/v2/accessToken",
        description="LinkedIn's OAuth 2 token endpoint",
    )
    linkedin_client_id: str = Field("", description="Herald's OAuth client id at LinkedIn")
    linkedin_client_secret: str = Field(
        "", description="Herald's OAuth client secret at LinkedIn (never logged)", repr=False
    )
    webhook_allow_private_targets: bool = Field(
        False,
        description="let webhook endpoints and the URLs of channels (a Mastodon instance) "
        "target private, loopback and link-local addresses (SSRF guard off: the local dev "
        "stack and the tests only)",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("changes_max_age_s")
    @classmethod
    def _outlives_duplicate_window(cls, value: float, info: ValidationInfo) -> float:
        window = info.data.get("stream_duplicate_window_s")
        if window is not None and value < window:  # JetStream refuses such a stream
            raise ValueError("must be at least HERALD_STREAM_DUPLICATE_WINDOW_S")
        return value

    @field_validator("outbox_mark_linger_s")
    @classmethod
    def _republished_within_duplicate_window(cls, value: float, info: ValidationInfo) -> float:
        """A row whose mark is lost goes out again after the grace: JetStream must still
        remember its first publish, or the stream stores it twice."""
        window, grace = info.data.get("stream_duplicate_window_s"), info.data.get("outbox_grace_s")
        if window is not None and grace is not None and grace + value >= window:
            raise ValueError(
                "HERALD_OUTBOX_GRACE_S + HERALD_OUTBOX_MARK_LINGER_S must be under "
                "HERALD_STREAM_DUPLICATE_WINDOW_S"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a postgresql:// or postgresql+asyncpg:// URL")
        return value

    @field_validator("credential_keys")
    @classmethod
    def _no_dev_key_in_production(cls, value: str, info: ValidationInfo) -> str:
        keys = [item.partition(":")[2].strip() for item in value.split(",")]
        if info.data.get("environment") == "production" and DEV_CREDENTIAL_KEY in keys:
            raise ValueError("the public development key is refused in production")
        return value

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


S = TypeVar("S", bound=HeraldSettings)


def describe_errors(cls: type[HeraldSettings], error: ValidationError) -> str:
    """One line per bad variable, named as the operator must set it."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        lines.append(f"{prefix}{field.upper()}: {item['msg']}")
    return "; ".join(lines)


def load_settings(cls: type[S]) -> S:
    """Read settings or exit with status 2 and a message naming each bad variable."""
    try:
        return cls()
    except ValidationError as error:
        print(f"herald: invalid settings: {describe_errors(cls, error)}", file=sys.stderr)
        raise SystemExit(2) from None
