"""The publisher's Prometheus metrics (bounded labels: platform, outcome, reason)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ATTEMPTS = Counter(
    "herald_publish_attempts_total", "Platform attempts by outcome", ["platform", "outcome"]
)
PLATFORM_CALL_SECONDS = Histogram(
    "herald_platform_call_duration_seconds", "Duration of platform calls", ["platform"]
)
JOBS_FINISHED = Counter(
    "herald_jobs_finished_total", "Jobs leaving processing, by new status", ["platform", "status"]
)
CLAIMS_REFUSED = Counter(
    "herald_claims_refused_total", "Publish requests that found no claimable job", ["reason"]
)
FENCED_OUT = Counter(
    "herald_fenced_writes_total", "Results not recorded because the lease was lost", ["platform"]
)
APPROVE_TO_PUBLISHED = Histogram(
    "herald_approve_to_published_seconds",
    "From approval to the platform accepting the post",
    ["platform"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RATE_LIMIT_WAITS = Counter(
    "herald_rate_limit_waits_total", "Publish requests put back to wait for a token", ["platform"]
)
CHANNEL_CHECKS = Counter(
    "herald_channel_checks_total",
    "Credential checks asked for by POST /v1/channels/{id}/verify, by outcome",
    ["platform", "outcome"],
)
TOKEN_REFRESHES = Counter(
    "herald_token_refreshes_total",
    "OAuth token refreshes by outcome (refreshed, taken from another worker, or the error class)",
    ["platform", "outcome"],
)
LOCK_WAITS = Counter(
    "herald_named_lock_acquisitions_total",
    "Exclusive sections (a signage playlist's edit) entered, or given up as busy",
    ["outcome"],
)
INVENTORY_SYNCS = Counter(
    "herald_inventory_syncs_total",
    "Syncs of a signage account's screens and playlists, by outcome",
    ["platform", "outcome"],
)
TOKEN_UPKEEP = Counter(
    "herald_token_upkeep_total",
    "Idle OAuth channels the token upkeep refreshed, or why not (refused, transient, …)",
    ["platform", "outcome"],
)
