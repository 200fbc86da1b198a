"""Examples of the API's response bodies, for the OpenAPI document (``/docs``).

Data only: the response models attach them (``json_schema_extra``), and a unit test validates
each against its model, so an example cannot drift from the shape it shows. One story runs
through them: the tenant "Acme Coffee" posts its opening hours to its lobby screen.
"""

from __future__ import annotations

from pydantic.config import JsonDict

TENANT_ID = "0194f0c1-2b3a-7c4d-8e5f-6a7b8c9d0e1f"
KEY_ID = "0194f0c1-3c4d-7e5f-9a6b-7c8d9e0f1a2b"
CHANNEL_ID = "0194f0c2-7c1e-7d4a-9a53-2f1f0e7d9b11"
ASSET_ID = "0194f0c3-1a2b-7c3d-8e4f-5a6b7c8d9e0f"
JOB_ID = "0194f0c4-4d5e-7f6a-8b7c-9d0e1f2a3b4c"
ALERT_ID = "0194f0c5-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
SILENCE_ID = "0194f0c6-6f7a-7b8c-8d9e-0f1a2b3c4d5e"
ENDPOINT_ID = "0194f0c7-7a8b-7c9d-9e0f-1a2b3c4d5e6f"
DELIVERY_ID = "0194f0c8-8b9c-7d0e-8f1a-2b3c4d5e6f7a"
EVENT_ID = "0194f0c9-9c0d-7e1f-9a2b-3c4d5e6f7a8b"
AUDIT_ID = "0194f0ca-0d1e-7f2a-8b3c-4d5e6f7a8b9c"


def page(item: JsonDict, next_cursor: str | None = None) -> JsonDict:
    """A keyset page holding ``item``; ``next_cursor`` null on the last page."""
    return {"items": [item], "next_cursor": next_cursor}


TENANT_CREATED: JsonDict = {
    "tenant": {"id": TENANT_ID, "name": "Acme Coffee"},
    "api_key": "hk_4q9Zs1y8Vt2Lr6Xw0Pc3Nb7Jm5KdQe1Ra8Zu0Hw3Ty6Gp2Fs9Lc",
}

CHANNEL: JsonDict = {
    "id": CHANNEL_ID,
    "platform": "sandbox",
    "name": "Lobby screen",
    "config": {"account": "lobby"},
    "auth_state": "ok",
    "created_at": "2026-12-01T08:55:00Z",
}

JOB_SUMMARY: JsonDict = {
    "id": JOB_ID,
    "channel_id": CHANNEL_ID,
    "platform": "sandbox",
    "status": "processing",
}

ASSET: JsonDict = {
    "id": ASSET_ID,
    "title": "Opening hours",
    "body": "Open 9 to 5, every day.",
    "media": [{"url": "https://cdn.example.com/hours.png"}],
    "channel_ids": [CHANNEL_ID],
    "status": "publishing",
    "review_status": "approved",
    "priority": "normal",
    "scheduled_for": None,
    "publish_late_within_minutes": None,
    "approved_at": "2026-12-01T09:00:02Z",
    "submitted_at": "2026-12-01T08:58:40Z",
    "reviewed_at": "2026-12-01T09:00:02Z",
    "reviewed_by": KEY_ID,
    "rejection_reason": None,
    "created_by": KEY_ID,
    "created_at": "2026-12-01T08:58:10Z",
    "updated_at": "2026-12-01T09:00:02Z",
    "jobs": [JOB_SUMMARY],
}

JOB_BRIEF: JsonDict = {
    "id": JOB_ID,
    "asset_id": ASSET_ID,
    "channel_id": CHANNEL_ID,
    "platform": "sandbox",
    "status": "succeeded",
    "priority": "normal",
    "scheduled_for": None,
    "external_id": "post-81734",
    "last_error_code": "http_503",
    "cancel_requested": False,
    "created_at": "2026-12-01T09:00:02Z",
    "finished_at": "2026-12-01T09:00:05Z",
}

JOB: JsonDict = {
    **JOB_BRIEF,
    "attempts": [
        {
            "number": 1,
            "outcome": "failed",
            "error_class": "transient",
            "error_code": "http_503",
            "error_message": "the platform answered 503",
            "http_status": 503,
            "started_at": "2026-12-01T09:00:02.1Z",
            "finished_at": "2026-12-01T09:00:02.4Z",
            "duration_ms": 301.5,
            "worker": "publisher-7f3c",
        },
        {
            "number": 2,
            "outcome": "succeeded",
            "error_class": None,
            "error_code": None,
            "error_message": None,
            "http_status": 201,
            "started_at": "2026-12-01T09:00:04.9Z",
            "finished_at": "2026-12-01T09:00:05Z",
            "duration_ms": 96.2,
            "worker": "publisher-7f3c",
        },
    ],
}

REDRIVE: JsonDict = {"requeued": 1, "job_ids": [JOB_ID]}

PLATFORM: JsonDict = {
    "name": "sandbox",
    "title": "Herald sandbox",
    "capabilities": {"lookup": True, "oauth": False, "media": True, "inventory": False},
    "required_config": ["account"],
    "any_config": [],
    "required_credentials": ["token"],
    "rate_limit": {"per_period": 100, "period_s": 1.0, "burst": 200},
}

ALERT: JsonDict = {
    "id": ALERT_ID,
    "severity": "warning",
    "category": "publish_failed",
    "source": "publisher",
    "dedup_key": f"publish_failed:{CHANNEL_ID}",
    "message": "sandbox: a publish attempt failed (http_503)",
    "details": {"job_id": JOB_ID, "error_class": "transient", "error_code": "http_503"},
    "channel_id": CHANNEL_ID,
    "platform": "sandbox",
    "occurrences": 3,
    "first_seen_at": "2026-12-01T09:00:02Z",
    "last_seen_at": "2026-12-01T09:07:40Z",
    "status": "active",
    "resolution": None,
    "resolved_at": None,
    "acknowledged_at": None,
    "escalation_level": 0,
    "notification": "sent",
}

SILENCE: JsonDict = {
    "id": SILENCE_ID,
    "reason": "lobby screen being replaced",
    "starts_at": "2026-12-01T09:10:00Z",
    "ends_at": "2026-12-02T09:00:00Z",
    "dedup_key": None,
    "channel_id": CHANNEL_ID,
    "category": None,
    "created_by": KEY_ID,
    "created_at": "2026-12-01T09:10:00Z",
    "active": True,
}

WEBHOOK_ENDPOINT: JsonDict = {
    "id": ENDPOINT_ID,
    "url": "https://hooks.example.com/herald",
    "events": ["alert.raised", "alert.resolved"],
    "description": "on-call",
    "created_at": "2026-12-01T08:50:00Z",
    "previous_secret_expires_at": None,
}

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - an example

WEBHOOK_ENDPOINT_CREATED: JsonDict = {**WEBHOOK_ENDPOINT, "secret": WEBHOOK_SECRET}

WEBHOOK_SECRET_ROTATED: JsonDict = {
    "id": ENDPOINT_ID,
    "secret": WEBHOOK_SECRET,
    "previous_secret_expires_at": "2026-12-02T09:00:00Z",
}

WEBHOOK_DELIVERY: JsonDict = {
    "id": DELIVERY_ID,
    "endpoint_id": ENDPOINT_ID,
    "event_id": EVENT_ID,
    "event_type": "alert.raised",
    "status": "delivered",
    "attempts": 1,
    "next_attempt_at": "2026-12-01T09:07:41Z",
    "last_http_status": 204,
    "last_error": None,
    "created_at": "2026-12-01T09:07:41Z",
    "finished_at": "2026-12-01T09:07:41.2Z",
    "tries": [
        {
            "number": 1,
            "started_at": "2026-12-01T09:07:41Z",
            "finished_at": "2026-12-01T09:07:41.2Z",
            "outcome": "delivered",
            "http_status": 204,
            "error": None,
            "duration_ms": 182.0,
        }
    ],
}

API_KEY: JsonDict = {
    "id": KEY_ID,
    "name": "review desk",
    "role": "reviewer",
    "prefix": "hk_4q9Zs1y",
    "created_at": "2026-12-01T08:45:00Z",
    "expires_at": "2027-06-30T00:00:00Z",
    "revoked_at": None,
    "created_by": None,
}

API_KEY_CREATED: JsonDict = {
    **API_KEY,
    "api_key": "hk_4q9Zs1y8Vt2Lr6Xw0Pc3Nb7Jm5KdQe1Ra8Zu0Hw3Ty6Gp2Fs9Lc",
}

AUDIT_EVENT: JsonDict = {
    "id": AUDIT_ID,
    "occurred_at": "2026-12-01T09:00:02Z",
    "actor": f"key:{KEY_ID}",
    "actor_key_id": KEY_ID,
    "actor_role": "reviewer",
    "action": "asset.approved",
    "subject_type": "asset",
    "subject_id": ASSET_ID,
    "details": {"jobs": 1},
}

CONNECT_STARTED: JsonDict = {
    "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth?client_id=…&state=…",
    "expires_at": "2026-12-01T09:15:00Z",
}

OAUTH_CONNECTED: JsonDict = {
    "channel": {
        **CHANNEL,
        "platform": "google_business",
        "name": "Downtown store",
        "config": {"location": "accounts/1/locations/2"},
    },
    "reconnected": False,
    "resumed_jobs": 0,
}

EVENT_STREAM = (
    'id: 41\nevent: ready\ndata: {"last_event_id":41}\n\n'
    "id: 42\nevent: job.changed\n"
    f'data: {{"tenant_id":"{TENANT_ID}","job_id":"{JOB_ID}","asset_id":"{ASSET_ID}",'
    f'"channel_id":"{CHANNEL_ID}","platform":"sandbox","status":"succeeded","attempts":1,'
    '"error_code":null,"external_id":"post-81734","next_attempt_at":null,'
    '"occurred_at":"2026-12-01T09:00:05Z"}\n\n'
)
"""What a client reads from ``GET /v1/events``: ``ready``, then the tenant's changes."""
