"""API settings: the shared ones plus what only the gateway needs."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from herald.common.settings import PLACEHOLDER_SECRETS, HeraldSettings


class ApiSettings(HeraldSettings):
    service_name: str = "api"
    http_port: int = Field(8000, ge=0, le=65535)
    operator_token: str = Field(
        "dev-operator-token", description="bearer token for operator routes (POST /v1/tenants)"
    )
    max_body_bytes: int = Field(1_000_000, ge=1024)

    @field_validator("operator_token")
    @classmethod
    def _real_operator_token(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("environment") == "production" and value in PLACEHOLDER_SECRETS:
            raise ValueError("set a real secret in production")
        return value
