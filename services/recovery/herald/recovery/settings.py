"""Recovery settings."""

from __future__ import annotations

from pydantic import Field

from herald.common.settings import HeraldSettings
from herald.recovery.domain.retention import RetentionPolicy
from herald.recovery.domain.sweep_policy import SweepPolicy


class RecoverySettings(HeraldSettings):
    service_name: str = "recovery"
    http_port: int = Field(8083, ge=0, le=65535)
    sweep_interval_s: float = Field(0.5, gt=0, description="how often the sweeps run")
    queued_stale_s: float = Field(30.0, gt=0)
    retry_overdue_s: float = Field(30.0, gt=0)
    lease_grace_s: float = Field(5.0, ge=0)
    sweep_batch_size: int = Field(500, ge=1)
    retention_outbox_s: float = Field(7 * 86400, gt=0, description="sent outbox rows kept")
    retention_inbox_s: float = Field(7 * 86400, gt=0, description="inbox rows kept")
    retention_attempts_s: float = Field(
        30 * 86400, gt=0, description="attempts of finished jobs kept"
    )
    retention_deliveries_s: float = Field(
        30 * 86400, gt=0, description="finished webhook deliveries (and their tries) kept"
    )
    prune_interval_s: float = Field(60.0, gt=0, description="how often old rows are pruned")
    lock_grace_s: float = Field(
        60.0, ge=0, description="an expired lock is deleted this long after it expired"
    )
    fleet_gauges_interval_s: float = Field(
        5.0, gt=0, description="how often jobs by status, consumer lag and instances are read"
    )
    instance_stale_s: float = Field(
        20.0, gt=0, description="a heartbeat older than this no longer counts as a live instance"
    )

    def retention_policy(self) -> RetentionPolicy:
        return RetentionPolicy(
            self.retention_outbox_s,
            self.retention_inbox_s,
            self.retention_attempts_s,
            self.retention_deliveries_s,
        )

    def sweep_policy(self) -> SweepPolicy:
        return SweepPolicy(
            self.queued_stale_s, self.retry_overdue_s, self.lease_grace_s, self.sweep_batch_size
        )
