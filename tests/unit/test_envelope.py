"""Tests of herald.common.events.envelope: the wire format of every Herald event."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from pydantic import ValidationError

from herald.common.events import (
    AssetApproved,
    Envelope,
    Event,
    PublishFailed,
    PublishRequested,
    PublishSucceeded,
    UnknownSchemaError,
)

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
TENANT = uuid.UUID("0190a000-0000-7000-8000-000000000001")
JOB = uuid.UUID("0190a000-0000-7000-8000-000000000002")
ASSET = uuid.UUID("0190a000-0000-7000-8000-000000000003")
CHANNEL = uuid.UUID("0190a000-0000-7000-8000-000000000004")

FAILED = PublishFailed(
    job_id=JOB,
    asset_id=ASSET,
    channel_id=CHANNEL,
    platform="sandbox",
    error_class="transient",
    error_code="http_503",
    message="the platform answered 503",
    http_status=503,
    attempt=2,
    final=False,
)
EVENTS: list[Event] = [
    FAILED,
    PublishRequested(job_id=JOB, priority="high"),
    PublishSucceeded(
        job_id=JOB,
        asset_id=ASSET,
        channel_id=CHANNEL,
        platform="sandbox",
        external_id="post-1",
        attempts=1,
    ),
    AssetApproved(asset_id=ASSET, job_ids=[JOB, CHANNEL]),
]


def wrap(event: Event, idempotency_key: str | None = None) -> Envelope:
    return Envelope.wrap(
        event, tenant_id=TENANT, subject_id=JOB, now=NOW, idempotency_key=idempotency_key
    )


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_wrap_to_json_round_trip(event: Event) -> None:
    envelope = wrap(event)
    decoded = Envelope.model_validate_json(envelope.to_json())
    assert decoded == envelope
    assert decoded.payload(type(event)) == event
    assert decoded.type == type(event).type
    assert decoded.occurred_at == NOW
    assert decoded.tenant_id == TENANT
    assert decoded.subject_id == JOB


def test_round_trip_without_tenant() -> None:
    envelope = Envelope.wrap(FAILED, tenant_id=None, subject_id=JOB, now=NOW)
    decoded = Envelope.model_validate_json(envelope.to_json())
    assert decoded.tenant_id is None
    assert decoded.payload(PublishFailed) == FAILED


def test_json_uses_the_schema_key() -> None:
    document = json.loads(wrap(FAILED).to_json())
    assert document["schema"] == 1
    assert "schema_version" not in document
    assert set(document) == {
        "id",
        "type",
        "occurred_at",
        "tenant_id",
        "subject_id",
        "idempotency_key",
        "data",
        "schema",
    }
    assert document["type"] == "publish.failed"
    assert document["data"]["job_id"] == str(JOB)
    assert document["data"]["http_status"] == 503


def test_payload_with_the_wrong_model_is_refused() -> None:
    envelope = wrap(FAILED)
    expected = re.escape("expected publish.succeeded, got publish.failed")
    with pytest.raises(UnknownSchemaError, match=expected):
        envelope.payload(PublishSucceeded)


def test_unknown_schema_error_is_a_value_error() -> None:
    assert issubclass(UnknownSchemaError, ValueError)


def test_a_newer_schema_version_is_refused() -> None:
    document = json.loads(wrap(FAILED).to_json())
    document["schema"] = 2
    envelope = Envelope.model_validate_json(json.dumps(document))
    assert envelope.schema_version == 2
    with pytest.raises(UnknownSchemaError, match="newer"):
        envelope.payload(PublishFailed)


class PublishFailedV2(PublishFailed):
    schema_version: ClassVar[int] = 2


def test_wrap_records_the_event_schema_version() -> None:
    envelope = wrap(PublishFailedV2(**FAILED.model_dump()))
    assert json.loads(envelope.to_json())["schema"] == 2
    with pytest.raises(UnknownSchemaError):
        envelope.payload(PublishFailed)
    assert envelope.payload(PublishFailedV2).job_id == JOB


def test_an_older_schema_version_is_read_by_newer_code() -> None:
    envelope = wrap(FAILED)
    assert envelope.schema_version == 1
    assert envelope.payload(PublishFailedV2).job_id == JOB


def test_the_schema_key_defaults_to_one() -> None:
    document = json.loads(wrap(FAILED).to_json())
    del document["schema"]
    assert Envelope.model_validate_json(json.dumps(document)).schema_version == 1


def test_idempotency_key_defaults_to_the_event_id() -> None:
    envelope = wrap(FAILED)
    assert envelope.idempotency_key == str(envelope.id)


def test_an_explicit_idempotency_key_is_kept() -> None:
    envelope = wrap(FAILED, idempotency_key="job:123:attempt:2")
    assert envelope.idempotency_key == "job:123:attempt:2"
    assert Envelope.model_validate_json(envelope.to_json()).idempotency_key == "job:123:attempt:2"


def test_ids_are_uuid7_and_increase() -> None:
    ids = [wrap(FAILED).id for _ in range(500)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_envelope_is_frozen() -> None:
    envelope = wrap(FAILED)
    with pytest.raises(ValidationError):
        envelope.type = "other"  # type: ignore[misc]


def test_unknown_data_fields_are_ignored_by_the_payload_model() -> None:
    document = json.loads(wrap(FAILED).to_json())
    document["data"]["added_in_a_later_minor_release"] = True
    envelope = Envelope.model_validate_json(json.dumps(document))
    assert envelope.payload(PublishFailed) == FAILED


def test_missing_data_fields_make_the_event_unreadable() -> None:
    document = json.loads(wrap(FAILED).to_json())
    del document["data"]["job_id"]
    envelope = Envelope.model_validate_json(json.dumps(document))
    with pytest.raises(UnknownSchemaError, match="job_id"):
        envelope.payload(PublishFailed)
