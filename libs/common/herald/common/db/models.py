"""SQLAlchemy models: the source of truth. Schema changes go through Alembic migrations only.

Every tenant-owned table carries ``tenant_id``; times are UTC ``timestamptz``; ids are UUIDv7.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from herald.common.ids import new_id

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSONB}


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)


def _created() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


def _tenant() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(16), doc="first characters, to recognise a key")
    key_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True, doc="SHA-256 of the key")
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), doc="API key id; NULL for a tenant's first key or the CLI"
    )


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (
        # the publisher's token upkeep: ok channels whose access token expires soon
        Index(
            "ix_channels_token_expires_at",
            "token_expires_at",
            postgresql_where=text("auth_state = 'ok' AND token_expires_at IS NOT NULL"),
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    platform: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    credentials_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    credentials_key_id: Mapped[str | None] = mapped_column(String(64))
    token_expires_at: Mapped[datetime | None] = mapped_column(
        doc="the sealed credentials' expires_at (OAuth), written with them; not a secret"
    )
    auth_state: Mapped[str] = mapped_column(String(20), server_default="ok")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ChannelInventory(Base):
    """What a signage channel's account has (its screens and playlists), as the publisher's
    periodic sync last read it; ``attempted_at`` paces the syncs, ``error`` says why the last
    one failed (the previous inventory is kept)."""

    __tablename__ = "channel_inventories"
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = _tenant()
    screens: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    playlists: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    synced_at: Mapped[datetime | None]
    attempted_at: Mapped[datetime]
    error: Mapped[str | None] = mapped_column(Text)


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (
        # GET /v1/assets pages newest first over UUIDv7 ids (keyset), with or without a status
        Index("ix_assets_tenant_id_id", "tenant_id", "id"),
        Index("ix_assets_tenant_status_id", "tenant_id", "status", "id"),
    )
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = mapped_column(  # indexed first in the indexes above
        ForeignKey("tenants.id", ondelete="CASCADE"), index=False
    )
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    channel_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10), server_default="normal")
    scheduled_for: Mapped[datetime | None]
    publish_late_within_s: Mapped[int | None] = mapped_column(
        Integer, doc="missed-slot policy: NULL publishes late; N marks jobs later than N s missed"
    )
    approved_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None] = mapped_column(doc="when it was approved or rejected")
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), doc="API key id")
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), doc="API key id")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class PublishJob(Base):
    __tablename__ = "publish_jobs"
    __table_args__ = (
        UniqueConstraint("asset_id", "channel_id"),
        Index("ix_publish_jobs_status_due", "status", "scheduled_for"),
        # GET /v1/jobs pages, newest first (keyset); the second with a status filter. Most jobs
        # succeed: that filter pages over the first index (nearly every row passes), so the
        # second leaves succeeded jobs out, a tenth of the size and no entry at a success.
        Index("ix_publish_jobs_tenant_created", "tenant_id", "created_at", "id"),
        Index(
            "ix_publish_jobs_tenant_status_created",
            "tenant_id",
            "status",
            "created_at",
            "id",
            postgresql_where=text("status <> 'succeeded'"),
        ),
        # the same pages filtered by channel or by platform alone: a quiet channel of a large
        # tenant would otherwise walk most of the tenant's index for one page
        Index(
            "ix_publish_jobs_tenant_channel_created", "tenant_id", "channel_id", "created_at", "id"
        ),
        Index(
            "ix_publish_jobs_tenant_platform_created", "tenant_id", "platform", "created_at", "id"
        ),
        # GET /v1/queue/stats, index-only where the visibility map allows: live jobs by status
        # and priority with the oldest request (live rows only: small), and jobs finished in a
        # window. The status list is TERMINAL's as of migration 0014.
        Index(
            "ix_publish_jobs_tenant_live",
            "tenant_id",
            "status",
            "priority",
            postgresql_include=["requested_at"],
            postgresql_where=text("status NOT IN ('succeeded', 'failed', 'cancelled', 'missed')"),
        ),
        Index(
            "ix_publish_jobs_tenant_finished",
            "tenant_id",
            "finished_at",
            postgresql_include=["status", "priority"],
            postgresql_where=text("finished_at IS NOT NULL"),
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = mapped_column(  # indexed first in the indexes above
        ForeignKey("tenants.id", ondelete="CASCADE"), index=False
    )
    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10), server_default="normal")
    scheduled_for: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    version: Mapped[int] = mapped_column(BigInteger, server_default="1", doc="fencing token")
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(500))
    last_error_code: Mapped[str | None] = mapped_column(String(100))
    queued_at: Mapped[datetime | None]
    requested_at: Mapped[datetime | None] = mapped_column(
        doc="when a publish.requested was last staged for it (stale-request sweeps)"
    )
    cancel_requested_at: Mapped[datetime | None] = mapped_column(
        doc="a cancel arrived mid-call: the call's outcome is recorded, no retry follows"
    )
    attempt_base: Mapped[int] = mapped_column(
        Integer, server_default="0", doc="attempts made before the last manual retry"
    )
    publish_late_within_s: Mapped[int | None] = mapped_column(Integer)
    rate_slot_at: Mapped[datetime | None] = mapped_column(
        doc="a rate-limit slot this job reserved; its request comes back then"
    )
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class PublishAttempt(Base):
    __tablename__ = "publish_attempts"
    __table_args__ = (
        UniqueConstraint("job_id", "number"),
        Index("ix_publish_attempts_finished_at", "finished_at"),  # the alerter's failure rates
    )
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("publish_jobs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(200))
    fencing_token: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20), doc="NULL while in flight")
    error_class: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[float | None]
    external_id: Mapped[str | None] = mapped_column(String(500))


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unsent", "created_at", postgresql_where=text("sent_at IS NULL")),
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _created()
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(
        doc="a relay is publishing this row until then (others skip it)"
    )
    publish_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)


class InboxMessage(Base):
    __tablename__ = "inbox"
    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)


class RateLimitBucket(Base):
    """Rate-limit state of one key (e.g. ``channel:<id>``): see publisher ``rate_limits``."""

    __tablename__ = "rate_limit_buckets"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[datetime | None] = mapped_column(doc="theoretical arrival time (GCRA schedule)")
    sent_tat: Mapped[datetime | None] = mapped_column(doc="the same, of calls actually admitted")


class Lock(Base):
    """A named distributed lock with expiry (``herald.common.locks``); ``token`` fences."""

    __tablename__ = "locks"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    token: Mapped[int] = mapped_column(BigInteger, doc="grows with every acquisition")
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ServiceHeartbeat(Base):
    __tablename__ = "service_heartbeats"
    service: Mapped[str] = mapped_column(String(50), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    info: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_dedup",
            "tenant_id",
            "dedup_key",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    severity: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(50))
    source: Mapped[str] = mapped_column(String(50))
    dedup_key: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    channel_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    platform: Mapped[str | None] = mapped_column(String(40))
    occurrences: Mapped[int] = mapped_column(Integer, server_default="1")
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), server_default="active")
    resolution: Mapped[str | None] = mapped_column(String(10))
    resolved_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(
        Integer, server_default="0", doc="how many times the severity was raised"
    )
    escalated_at: Mapped[datetime | None]
    window_started_at: Mapped[datetime | None] = mapped_column(
        doc="start of the de-duplication window whose repeats count toward escalation"
    )
    window_occurrences: Mapped[int] = mapped_column(Integer, server_default="0")
    notification: Mapped[str | None] = mapped_column(
        String(100), doc="the last notification decision: sent, silenced:<id>, inhibited:<id>"
    )
    notified_at: Mapped[datetime | None] = mapped_column(
        doc="when endpoints first heard of it: only then is its resolution sent too"
    )


class AuditEvent(Base):
    """Who did what to which entity, and when: written in the same transaction as the change."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_tenant_id_id", "tenant_id", "id"),
        Index("ix_audit_events_tenant_subject", "tenant_id", "subject_id", "id"),
    )
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=False
    )
    occurred_at: Mapped[datetime] = _created()
    actor: Mapped[str] = mapped_column(String(80), doc="key:<api key id>, operator or cli")
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60), doc="e.g. asset.approved, api_key.revoked")
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))


class Silence(Base):
    """A tenant mutes notifications of matching alerts until ``ends_at`` (alerts still count)."""

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_tenant_ends", "tenant_id", "ends_at"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=False
    )
    dedup_key: Mapped[str | None] = mapped_column(String(300))
    channel_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    category: Mapped[str | None] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), doc="API key id")
    created_at: Mapped[datetime] = _created()


class WebhookEndpoint(Base):
    """A tenant's notification endpoint: alert events are POSTed to it, Standard Webhooks signed."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(500), server_default="")
    events: Mapped[list[str]] = mapped_column(
        ARRAY(String(50)), server_default="{}", doc="event types sent; empty means all"
    )
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, doc="sealed whsec_ secret")
    secret_key_id: Mapped[str] = mapped_column(String(64))
    previous_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_key_id: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        doc="until then, deliveries carry a second signature made with the previous secret"
    )
    created_at: Mapped[datetime] = _created()
    deleted_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event to one endpoint; ``id`` is the ``webhook-id``, the same on every try."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
        Index(  # retention
            "ix_webhook_deliveries_finished",
            "finished_at",
            postgresql_where=text("finished_at IS NOT NULL"),
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(String(50))
    payload: Mapped[bytes] = mapped_column(LargeBinary, doc="the exact body signed and sent")
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    finished_at: Mapped[datetime | None]


class WebhookDeliveryAttempt(Base):
    """Every try of a delivery, with its outcome (the delivery log)."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20), doc="delivered | failed | refused")
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None]
    worker: Mapped[str] = mapped_column(String(200))


class OAuthConnection(Base):
    """An OAuth connection started by ``POST /v1/channels/{platform}/connect`` and finished
    by the platform's callback (migration 0016): the state's SHA-256, the sealed PKCE
    verifier, the channel to make (``name``, ``config``) or to re-authorize (``channel_id``)."""

    __tablename__ = "oauth_connections"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    platform: Mapped[str] = mapped_column(String(40))
    state_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    verifier_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    verifier_key_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]]
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), doc="API key id")
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """A POST's ``Idempotency-Key``, per API key (``herald.api.idempotency``): in progress while
    ``status`` is NULL (held by ``claim`` until ``locked_until``), then the response replayed to
    repeats of the same request until ``expires_at``, when the recovery service prunes it."""

    __tablename__ = "idempotency_keys"
    api_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(  # read by primary key only: no index to keep
        ForeignKey("tenants.id", ondelete="CASCADE"), index=False
    )
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text, doc="with the query string")
    body_sha256: Mapped[bytes] = mapped_column(LargeBinary)
    claim: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), doc="the request that holds it: fences one that finishes too late"
    )
    locked_until: Mapped[datetime | None] = mapped_column(
        doc="while in progress: a retry may take it over after this (its request died)"
    )
    status: Mapped[int | None] = mapped_column(Integer, doc="of the stored response")
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSONB)
    response_key_id: Mapped[str | None] = mapped_column(String(64))
    response_ciphertext: Mapped[bytes | None] = mapped_column(
        LargeBinary, doc="the body, sealed: a response may hold a secret shown once"
    )
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(index=True)
