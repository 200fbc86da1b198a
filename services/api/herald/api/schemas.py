"""Request and response bodies of the public API (v1). Shapes listed in ARCHITECTURE.md
"Shapes that clients, tests and tools rely on" are stable: add fields, never rename."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from herald.api import examples
from herald.common.domain.asset_states import Priority

_STRICT = ConfigDict(extra="forbid")


def _no_nul(value: Any) -> Any:
    """PostgreSQL cannot store U+0000 in text or JSON: refuse it here as a validation error."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_no_nul)]


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00
        raise ValueError("is out of range") from None


def _iso_only(value: Any) -> Any:
    """Refuse numbers (pydantic would read them as Unix times): times are ISO 8601 strings."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and value.strip() and _NUMERIC.fullmatch(value.strip())
    ):
        raise ValueError("must be an ISO 8601 date-time with a zone, e.g. 2026-12-01T09:00:00Z")
    return value


_NUMERIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only)]
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_in_utc)]
"""A time with its zone (a naive one is refused), held in UTC."""


class TenantIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Acme Coffee"}]}
    )
    name: Text = Field(min_length=1, max_length=200)


class TenantOut(BaseModel):
    id: uuid.UUID
    name: str


class TenantCreated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TENANT_CREATED]})
    tenant: TenantOut
    api_key: str = Field(description="the first admin key; shown once")


class ChannelIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "platform": "sandbox",
                    "name": "Lobby screen",
                    "config": {"account": "lobby"},
                    "credentials": {"token": "…"},
                }
            ]
        },
    )
    platform: Text = Field(min_length=1, max_length=40)
    name: Text = Field(min_length=1, max_length=200)
    config: JsonObject = Field(default_factory=dict)
    credentials: JsonObject = Field(default_factory=dict)


class ChannelOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CHANNEL]})
    id: uuid.UUID
    platform: str
    name: str
    config: dict[str, Any]
    auth_state: str
    created_at: datetime


class ChannelPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.page(examples.CHANNEL)]})
    items: list[ChannelOut]
    next_cursor: uuid.UUID | None


class MediaIn(BaseModel):
    model_config = _STRICT
    url: AnyHttpUrl


class AssetIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Opening hours",
                    "body": "Open 9 to 5, every day.",
                    "media": [{"url": "https://cdn.example.com/hours.png"}],
                    "channel_ids": ["0194f0c2-7c1e-7d4a-9a53-2f1f0e7d9b11"],
                    "scheduled_for": "2027-01-04T08:00:00Z",
                    "priority": "normal",
                }
            ]
        },
    )
    title: Text = Field(min_length=1, max_length=500)
    body: Text = Field(max_length=100_000)
    media: list[MediaIn] = Field(default_factory=list, max_length=20)
    channel_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    scheduled_for: IsoDatetime | None = None
    publish_late_within_minutes: int | None = Field(
        None,
        ge=0,
        le=525_600,
        description="missed-slot policy: null publishes late; N marks a job missed when its "
        "slot passed more than N minutes before it could be dispatched",
    )
    priority: Priority = Priority.NORMAL

    @field_validator("scheduled_for")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("scheduled_for needs a time zone, e.g. 2026-12-01T09:00:00Z")
        return value


class JobSummary(BaseModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    platform: str
    status: str


class AssetPatch(BaseModel):
    """Change an asset: only the fields sent change. Editing an approved asset sends it back to
    review (allowed while none of its jobs has started; its waiting jobs are discarded)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": "Doors open at 9 — now with coffee."}]},
    )
    title: Text | None = Field(None, min_length=1, max_length=500)
    body: Text | None = Field(None, max_length=100_000)
    media: list[MediaIn] | None = Field(None, max_length=20)
    channel_ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=500)
    scheduled_for: UtcDatetime | None = None
    publish_late_within_minutes: int | None = Field(None, ge=0, le=525_600)
    priority: Priority | None = None

    @model_validator(mode="after")
    def _nulls_only_where_meaningful(self) -> AssetPatch:
        nulled = [
            name
            for name in sorted(
                self.model_fields_set - {"scheduled_for", "publish_late_within_minutes"}
            )
            if getattr(self, name) is None
        ]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null (leave it out to keep it)")
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self


class RejectIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "The price in the second line is wrong."}]},
    )
    reason: Text = Field(min_length=1, max_length=2000, description="shown to the editor")


class AssetOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ASSET]})
    id: uuid.UUID
    title: str
    body: str
    media: list[dict[str, Any]]
    channel_ids: list[uuid.UUID]
    status: str = Field(
        description="draft, submitted, rejected, cancelled, or once approved: approved, "
        "publishing, published, partially_failed or failed (from its jobs)"
    )
    review_status: str = Field(
        description="draft, submitted, approved, rejected or cancelled (what lists filter by)"
    )
    priority: str
    scheduled_for: datetime | None
    publish_late_within_minutes: int | None
    approved_at: datetime | None
    submitted_at: datetime | None
    reviewed_at: datetime | None
    reviewed_by: uuid.UUID | None = Field(description="the API key that approved or rejected")
    rejection_reason: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    jobs: list[JobSummary]


class AssetPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.page(examples.ASSET)]})
    items: list[AssetOut]
    next_cursor: uuid.UUID | None


class AttemptOut(BaseModel):
    number: int
    outcome: str | None
    error_class: str | None
    error_code: str | None
    error_message: str | None
    http_status: int | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    worker: str


class JobBriefOut(BaseModel):
    """A job as lists show it: everything but its attempts."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.JOB_BRIEF]})
    id: uuid.UUID
    asset_id: uuid.UUID
    channel_id: uuid.UUID
    platform: str
    status: str
    priority: str
    scheduled_for: datetime | None
    external_id: str | None
    last_error_code: str | None
    cancel_requested: bool
    created_at: datetime
    finished_at: datetime | None


class JobOut(JobBriefOut):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.JOB]})
    attempts: list[AttemptOut]


class JobPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.page(examples.JOB_BRIEF, examples.JOB_ID)]}
    )
    items: list[JobBriefOut]
    next_cursor: uuid.UUID | None


class RedriveIn(BaseModel):
    """Bulk manual retry: every matching dead job goes back to the queue (up to ``limit``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "failed", "platform": "sandbox", "limit": 100}]},
    )
    status: Literal["failed", "cancelled", "missed", "waiting_auth"] = "failed"
    platform: Text | None = Field(None, max_length=40)
    channel_id: uuid.UUID | None = None
    limit: int = Field(100, ge=1, le=1000)


class RedriveOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.REDRIVE]})
    requeued: int
    job_ids: list[uuid.UUID]


class AlertOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ALERT]})
    id: uuid.UUID
    severity: str
    category: str
    source: str
    dedup_key: str
    message: str
    details: dict[str, Any]
    channel_id: uuid.UUID | None
    platform: str | None
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    status: str
    resolution: str | None
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    escalation_level: int = Field(description="how many times the severity was raised")
    notification: str | None = Field(
        description="what became of the last change's notification: sent, silenced:<silence "
        "id>, inhibited:<alert id> or no_tenant; null until the notifier has seen it"
    )


class AlertPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.page(examples.ALERT)]})
    items: list[AlertOut]
    next_cursor: uuid.UUID | None


SILENCE_MAX_SPAN = timedelta(days=366)
"""Silences start and end within a year of now: longer is a mistake, or should be a fix."""


class SilenceIn(BaseModel):
    """Mute notifications of alerts matching every matcher given, until ``ends_at``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "channel_id": "0194f0c2-7c1e-7d4a-9a53-2f1f0e7d9b11",
                    "reason": "lobby screen being replaced",
                    "ends_at": "2030-01-01T09:00:00Z",
                }
            ]
        },
    )
    reason: Text = Field(min_length=1, max_length=2000)
    ends_at: IsoDatetime
    starts_at: IsoDatetime | None = None
    dedup_key: Text | None = Field(None, min_length=1, max_length=300)
    channel_id: uuid.UUID | None = None
    category: Text | None = Field(None, min_length=1, max_length=50)

    @field_validator("ends_at", "starts_at")
    @classmethod
    def _aware_and_bounded(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must include a time zone (e.g. 2030-01-01T09:00:00Z)")
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range") from None
        now = datetime.now(UTC)
        if not now - SILENCE_MAX_SPAN <= value <= now + SILENCE_MAX_SPAN:
            raise ValueError("must lie within a year of now")
        return value


class SilenceOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SILENCE]})
    id: uuid.UUID
    reason: str
    starts_at: datetime
    ends_at: datetime
    dedup_key: str | None
    channel_id: uuid.UUID | None
    category: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    active: bool


class SilencePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.page(examples.SILENCE)]})
    items: list[SilenceOut]
    next_cursor: uuid.UUID | None


# Webhook endpoints

WebhookEventType = Literal["alert.raised", "alert.escalated", "alert.resolved", "webhook.test"]
"""``herald.common.webhooks.EVENT_TYPES`` (a unit test keeps the two equal)."""


class WebhookEndpointIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/herald",
                    "events": ["alert.raised", "alert.resolved"],
                    "description": "on-call",
                }
            ]
        },
    )
    url: Text = Field(min_length=1, max_length=2000, description="http(s) URL the events go to")
    events: list[WebhookEventType] = Field(
        default_factory=list, max_length=10, description="event types sent; empty means all"
    )
    description: Text = Field("", max_length=500)


class WebhookEndpointOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.WEBHOOK_ENDPOINT]})
    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    created_at: datetime
    previous_secret_expires_at: datetime | None = Field(
        None, description="until then a rotated-out secret signs too (a second signature)"
    )


class WebhookEndpointCreated(WebhookEndpointOut):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.WEBHOOK_ENDPOINT_CREATED]})
    secret: str = Field(description="whsec_… signing secret; shown once")


class WebhookSecretRotated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.WEBHOOK_SECRET_ROTATED]})
    id: uuid.UUID
    secret: str = Field(description="the new whsec_… secret; shown once")
    previous_secret_expires_at: datetime


class WebhookTryOut(BaseModel):
    number: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    http_status: int | None
    error: str | None
    duration_ms: float | None


class WebhookDeliveryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.WEBHOOK_DELIVERY]})
    id: uuid.UUID = Field(description="the webhook-id header, the same on every try")
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_http_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    tries: list[WebhookTryOut] = Field(default_factory=list)


class WebhookDeliveryPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.page(examples.WEBHOOK_DELIVERY)]}
    )
    items: list[WebhookDeliveryOut]
    next_cursor: uuid.UUID | None


# API keys and the audit log

KeyRole = Literal["admin", "reviewer", "editor", "viewer"]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "review desk", "role": "reviewer", "expires_at": "2027-06-30T00:00:00Z"}
            ]
        },
    )
    name: Text = Field(min_length=1, max_length=200)
    role: KeyRole
    expires_at: UtcDatetime | None = Field(None, description="unusable from then on")


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.API_KEY]})
    id: uuid.UUID
    name: str
    role: str
    prefix: str = Field(description="the key's first characters, to recognise it")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    created_by: uuid.UUID | None


class ApiKeyCreated(ApiKeyOut):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.API_KEY_CREATED]})
    api_key: str = Field(description="the key itself; shown once, only its digest is kept")


class ApiKeyPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.page(examples.API_KEY)]})
    items: list[ApiKeyOut]
    next_cursor: uuid.UUID | None


class AuditEventOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.AUDIT_EVENT]})
    id: uuid.UUID
    occurred_at: datetime
    actor: str = Field(description="key:<api key id>, operator or cli")
    actor_key_id: uuid.UUID | None
    actor_role: str | None
    action: str = Field(description="e.g. asset.approved, api_key.revoked, channel.created")
    subject_type: str
    subject_id: uuid.UUID | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.page(examples.AUDIT_EVENT)]})
    items: list[AuditEventOut]
    next_cursor: uuid.UUID | None


# Channel management


class ChannelInventoryOut(BaseModel):
    """A signage channel's account as the publishers' periodic sync last read it: its screens
    (``playlist``: the one each shows, null for a layout or schedule) and its playlists, to
    pick the ``playlist`` or ``screens`` a channel's config names. ``synced_at`` is null until
    a sync has succeeded; ``error`` says why the last try failed (the last inventory stays)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel_id": "0194f0c2-7c1e-7d4a-9a53-2f1f0e7d9b11",
                    "screens": [
                        {"id": "4121", "name": "Lobby", "online": True, "playlist": "880"},
                        {"id": "4122", "name": "Window", "online": False, "playlist": None},
                    ],
                    "playlists": [{"id": "880", "name": "Lobby loop", "items": 12}],
                    "synced_at": "2026-12-05T09:00:00Z",
                    "attempted_at": "2026-12-05T09:05:00Z",
                    "error": "http_503: the platform answered 503",
                }
            ]
        }
    )
    channel_id: uuid.UUID
    screens: list[dict[str, Any]]
    playlists: list[dict[str, Any]]
    synced_at: datetime | None
    attempted_at: datetime | None
    error: str | None


class ChannelVerification(BaseModel):
    """What the platform said of the channel's credentials, and the channel after it.

    ``outcome``: ``ok`` (accepted; ``account`` is the platform's name for it), ``refused`` (the
    channel is now ``reauth_required``: give it new credentials), ``unreachable`` (the
    platform did not answer or failed; nothing changed), ``unsupported`` (the platform has no
    way to check without posting)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "outcome": "ok",
                    "account": "@heraldbrand",
                    "error_code": None,
                    "message": None,
                    "token_expires_at": None,
                    "resumed_jobs": 0,
                    "channel": {
                        "id": "0194f0c2-7c1e-7d4a-9a53-2f1f0e7d9b11",
                        "platform": "mastodon",
                        "name": "Brand account",
                        "config": {"instance_url": "https://mastodon.social"},
                        "auth_state": "ok",
                        "created_at": "2026-12-05T09:00:00Z",
                    },
                }
            ]
        }
    )

    outcome: Literal["ok", "refused", "unreachable", "unsupported"]
    account: str | None
    error_code: str | None
    message: str | None
    token_expires_at: datetime | None = None  # after POST /v1/channels/{id}/refresh
    resumed_jobs: int  # parked jobs requeued because a reauth_required channel passed
    channel: ChannelOut


class ChannelPatch(BaseModel):
    """Change a channel: only the fields sent change, each replaced whole. New ``credentials``
    are sealed with the active key and never returned; they re-authorize the channel (an
    ``auth_state`` of reauth_required or disconnected becomes ok) and resume its jobs waiting
    in ``waiting_auth``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Lobby screen"},
                {"config": {"account": "lobby-2"}},
                {"credentials": {"token": "<new access token>"}},
            ]
        },
    )
    name: Text | None = Field(None, min_length=1, max_length=200)
    config: JsonObject | None = Field(None, description="replaces the whole config")
    credentials: JsonObject | None = Field(
        None, description="replaces the stored credentials; write-only"
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> ChannelPatch:
        nulled = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null (leave it out to keep it)")
        if not self.model_fields_set:
            raise ValueError("send at least one of name, config, credentials")
        return self


class ConnectIn(BaseModel):
    """A channel to connect: its ``name`` and ``config`` (e.g. Google's ``location``), or the
    ``channel_id`` of one to re-authorize."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Downtown store", "config": {"location": "accounts/1/locations/2"}},
                {"channel_id": "0194f0c2-7c1e-7d4a-9a53-2f1f0e7d9b11"},
            ]
        },
    )

    name: str | None = Field(None, min_length=1, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    channel_id: uuid.UUID | None = None


class ConnectStarted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CONNECT_STARTED]})
    authorize_url: str  # where the user's browser goes to consent
    expires_at: datetime  # the connection must be finished before this


class OAuthConnected(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.OAUTH_CONNECTED]})
    channel: ChannelOut
    reconnected: bool  # an existing channel got new tokens
    resumed_jobs: int  # its jobs parked in waiting_auth, requeued
