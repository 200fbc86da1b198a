"""Publisher settings: the shared ones plus leases, concurrency and platform endpoints."""

from __future__ import annotations

from pydantic import Field

from herald.common.settings import HeraldSettings


class PublisherSettings(HeraldSettings):
    service_name: str = "publisher"
    http_port: int = Field(8081, ge=0, le=65535)
    lease_s: float = Field(60, gt=0, description="how long a claimed job stays ours")
    concurrency: int = Field(16, ge=1, description="jobs executed at once per process")
    fetch_batch: int = Field(
        1,
        ge=1,
        description="messages per pull; nats-py holds a partly filled batch until the pull "
        "times out, so batches above 1 trade latency (up to 1 s) for fewer round trips",
    )
    tenant_concurrency: int = Field(
        10, ge=0, description="jobs of one tenant in flight across all publishers (0: no cap)"
    )
    priority_max_wait_s: float = Field(
        5.0, gt=0, description="a job waiting this long for a slot goes first, whatever its class"
    )
    platform_timeout_s: float = Field(20, gt=0)
    sandbox_url: str = Field("http://127.0.0.1:8790", description="base URL of the sandbox")
    google_api_url: str = Field(
        "https://mybusiness.googleapis.com", description="Google Business Profile API base URL"
    )
    x_api_url: str = Field("https://api.x.com", description="X API v2 base URL")
    linkedin_api_url: str = Field(
        "https://api.linkedin.com", description="LinkedIn's versioned REST API base URL"
    )
