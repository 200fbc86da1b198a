"""Alerter settings."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from herald.alerter.domain.delivery_policy import DEFAULT_SCHEDULE, RetrySchedule
from herald.alerter.domain.policy import AlertPolicy
from herald.common.settings import HeraldSettings


class AlerterSettings(HeraldSettings):
    service_name: str = "alerter"
    http_port: int = Field(8082, ge=0, le=65535)
    # alerting policy (see herald.alerter.domain.policy.AlertPolicy for what each means)
    alert_dedup_window_s: float = Field(300.0, gt=0)
    alert_escalate_after: int = Field(3, ge=1)
    alert_failure_rate_threshold: float = Field(0.5, gt=0, le=1)
    alert_failure_rate_min_attempts: int = Field(10, ge=1)
    alert_platform_min_channels: int = Field(3, ge=1)
    alert_quiet_resolve_s: float = Field(1800.0, gt=0)
    alert_oldest_queued_s: float = Field(300.0, gt=0)
    alert_stuck_processing_s: float = Field(900.0, gt=0)
    alert_heartbeat_stale_s: float = Field(30.0, gt=0)
    alert_heartbeat_forget_s: float = Field(
        3600.0, gt=0, description="a silent instance's heartbeat row is dropped after this"
    )
    alert_rules_interval_s: float = Field(5.0, gt=0, description="how often rules are evaluated")
    success_batch_size: int = Field(
        64, ge=1, description="publish successes handled together (one read for their alerts)"
    )
    success_batch_wait_s: float = Field(
        0.5,
        gt=0,
        description="how long a batch of successes is gathered: a lone success waits this long "
        "before it resolves its channel's alerts; also how often an idle alerter asks "
        "JetStream for successes (twice per wait)",
    )
    webhook_retry_schedule_s: str = Field(
        DEFAULT_SCHEDULE,
        description="seconds between webhook tries, comma-separated: the first try is at "
        "once, then one more try after each delay, then the delivery fails",
    )
    webhook_timeout_s: float = Field(10, gt=0, description="per webhook request")
    webhook_poll_interval_s: float = Field(
        0.5, gt=0, description="how often due deliveries are looked for"
    )
    webhook_claim_s: float = Field(
        60,
        gt=0,
        description="a claimed delivery stays ours this long (then another sender takes it)",
    )
    webhook_concurrency: int = Field(16, ge=1, description="webhook requests in flight per process")

    @field_validator("webhook_retry_schedule_s")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        RetrySchedule.parse(value)
        return value

    @field_validator("webhook_claim_s")
    @classmethod
    def _claim_outlasts_request(cls, value: float, info: ValidationInfo) -> float:
        timeout = info.data.get("webhook_timeout_s")
        if timeout is not None and value <= timeout:
            raise ValueError(
                f"must be longer than HERALD_WEBHOOK_TIMEOUT_S ({timeout:g}), or a slow endpoint "
                "gets the same delivery from a second sender while the first still waits"
            )
        return value

    @property
    def webhook_retry_schedule(self) -> RetrySchedule:
        return RetrySchedule.parse(self.webhook_retry_schedule_s)

    def alert_policy(self) -> AlertPolicy:
        return AlertPolicy(
            dedup_window_s=self.alert_dedup_window_s,
            escalate_after=self.alert_escalate_after,
            failure_rate_threshold=self.alert_failure_rate_threshold,
            failure_rate_min_attempts=self.alert_failure_rate_min_attempts,
            platform_min_channels=self.alert_platform_min_channels,
            quiet_resolve_s=self.alert_quiet_resolve_s,
            oldest_queued_s=self.alert_oldest_queued_s,
            stuck_processing_s=self.alert_stuck_processing_s,
            heartbeat_stale_s=self.alert_heartbeat_stale_s,
        )
