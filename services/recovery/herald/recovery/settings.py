"""Recovery settings."""

from __future__ import annotations

from pydantic import Field

from herald.common.settings import HeraldSettings


class RecoverySettings(HeraldSettings):
    service_name: str = "recovery"
    http_port: int = Field(8083, ge=0, le=65535)
    sweep_interval_s: float = Field(5, gt=0)
