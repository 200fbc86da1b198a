"""Alerter settings."""

from __future__ import annotations

from pydantic import Field

from herald.common.settings import HeraldSettings


class AlerterSettings(HeraldSettings):
    service_name: str = "alerter"
    http_port: int = Field(8082, ge=0, le=65535)
