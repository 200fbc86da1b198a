"""The platforms this deployment knows, with capabilities and default rate limits."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from herald.api import examples
from herald.api.auth import Who
from herald.common.platforms import CATALOG

router = APIRouter(prefix="/v1/platforms", tags=["platforms"])


class RateLimitOut(BaseModel):
    per_period: int
    period_s: float
    burst: int


class PlatformOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PLATFORM]})
    name: str
    title: str
    capabilities: dict[str, bool]
    required_config: list[str]
    any_config: list[str] = Field(
        default_factory=list, description="at least one of these config keys must be set"
    )
    required_credentials: list[str]
    rate_limit: RateLimitOut


@router.get("")
async def list_platforms(_who: Who) -> list[PlatformOut]:
    return [
        PlatformOut(
            name=p.name,
            title=p.title,
            capabilities={
                "lookup": p.lookup,
                "oauth": p.oauth,
                "media": p.media,
                "inventory": p.inventory,
            },
            required_config=list(p.required_config),
            any_config=list(p.any_config),
            required_credentials=list(p.required_credentials),
            rate_limit=RateLimitOut(
                per_period=p.rate_limit.per_period,
                period_s=p.rate_limit.period_s,
                burst=p.rate_limit.burst,
            ),
        )
        for p in CATALOG.values()
    ]
