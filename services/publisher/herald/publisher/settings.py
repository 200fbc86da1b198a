"""Publisher settings: the shared ones plus leases, concurrency and platform endpoints."""

from __future__ import annotations

from pydantic import Field

from herald.common.settings import HeraldSettings
from herald.publisher.domain.token_upkeep import UpkeepPolicy


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
    yodeck_api_url: str = Field("https://app.yodeck.com", description="Yodeck's REST API host")
    inventory_sync_interval_s: float = Field(
        300, gt=0, description="how often a signage account's screens and playlists are read"
    )
    inventory_lock_ttl_s: float = Field(
        60, gt=0, description="a sync's lock expires this long after its last page unless renewed"
    )
    token_upkeep_interval_s: float = Field(
        60, gt=0, description="how often idle OAuth channels are checked for tokens to refresh"
    )
    token_upkeep_margin_s: float = Field(
        600,
        ge=0,
        description="an idle channel's access token is refreshed this long before it expires "
        "(plus up to 2 minutes, fixed per channel); keep it above the interval",
    )
    token_upkeep_lookahead_s: float = Field(
        900,
        ge=0,
        description="channels with a scheduled job due within this long get tokens that "
        "will still be valid at its slot (a revoked grant shows up before the slot)",
    )
    token_upkeep_batch: int = Field(100, ge=1, description="channels read per query")
    token_upkeep_concurrency: int = Field(4, ge=1, description="refreshes at once per process")

    def token_upkeep_policy(self) -> UpkeepPolicy:
        return UpkeepPolicy(
            margin_s=self.token_upkeep_margin_s, lookahead_s=self.token_upkeep_lookahead_s
        )
