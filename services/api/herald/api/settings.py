"""API settings: the shared ones plus what only the gateway needs."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from herald.api.domain.request_budget import Budget
from herald.common.settings import PLACEHOLDER_SECRETS, HeraldSettings


class ApiSettings(HeraldSettings):
    service_name: str = "api"
    http_port: int = Field(8000, ge=0, le=65535)
    operator_token: str = Field(
        "dev-operator-token", description="bearer token for operator routes (POST /v1/tenants)"
    )
    max_body_bytes: int = Field(1_000_000, ge=1024)
    sse_keepalive_s: float = Field(
        15, gt=0, description="GET /v1/events sends a comment line after this long without news"
    )
    sse_max_streams: int = Field(
        500, ge=1, description="open GET /v1/events streams per API process; more get a 503"
    )
    api_rate_limit_per_s: float = Field(
        0.0,
        ge=0,
        description="requests per second each API key may make on average, shared by every "
        "API replica (a token bucket in PostgreSQL); 0 turns the limit off",
    )
    api_rate_limit_burst: int = Field(
        100, ge=0, description="requests an API key may make at once; 0 turns the limit off"
    )
    idempotency_ttl_s: float = Field(
        86400.0,
        gt=0,
        description="how long a POST's response is replayed for its Idempotency-Key "
        "(the recovery service prunes it afterwards)",
    )
    idempotency_lock_s: float = Field(
        60.0,
        gt=0,
        description="an Idempotency-Key whose request has not finished after this long (its "
        "process died) is taken over by a retry of the same request",
    )
    cors_origins: str = Field(
        "",
        description="comma-separated origins (https://app.example.com) browsers may call the "
        "API from; empty turns CORS off",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="the API's URL as users' browsers reach it: OAuth platforms send them "
        "back to {public_url}/v1/oauth/callback/{platform}, which must be registered there",
    )
    channel_check_timeout_s: float = Field(
        30.0,
        gt=0,
        description="POST /v1/channels/{id}/verify waits this long for a publisher's verdict "
        "(a publisher gives up on the platform after HERALD_PLATFORM_TIMEOUT_S, 20 s)",
    )
    health_check_timeout_s: float = Field(
        2.0, gt=0, description="each check of GET /v1/system/health fails after this long"
    )
    health_missed_beats: float = Field(
        3.0,
        gt=1,
        description="a service instance whose heartbeat is older than this many heartbeat "
        "intervals (HERALD_HEARTBEAT_INTERVAL_S) no longer counts as running",
    )

    @field_validator("operator_token")
    @classmethod
    def _real_operator_token(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("environment") == "production" and value in PLACEHOLDER_SECRETS:
            raise ValueError("set a real secret in production")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in filter(None, (item.strip() for item in value.split(","))):
            scheme, sep, host = origin.partition("://")
            if origin != "*" and (
                scheme not in ("http", "https") or not sep or not host or "/" in host
            ):
                raise ValueError(f"{origin!r} is not an origin such as https://app.example.com")
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return [item.strip() for item in self.cors_origins.split(",") if item.strip()]

    def request_budget(self) -> Budget:
        return Budget(self.api_rate_limit_per_s, self.api_rate_limit_burst)
