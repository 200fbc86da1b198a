"""Tests of herald.common.live_updates and the CHANGES events: what is staged, where it goes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from herald.common.db.models import Alert, OutboxMessage, PublishJob
from herald.common.domain.job_states import JobStatus
from herald.common.events import AlertChanged, Envelope, JobChanged
from herald.common.events.changes import tenant_changes
from herald.common.live_updates import job_change, stage_alert_change, stage_job_change
from herald.common.settings import HeraldSettings
from herald.common.streams import CHANGES, PUBLISH, STREAMS, max_age_of

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TENANT = uuid.UUID("0190a000-0000-7000-8000-000000000001")


class Added:
    """Stands in for a session where only ``add`` is used: collects what is staged."""

    def __init__(self) -> None:
        self.rows: list[Any] = []

    def add(self, row: Any) -> None:
        self.rows.append(row)


def _job(**fields: Any) -> PublishJob:
    defaults: dict[str, Any] = {
        "id": uuid.uuid4(),
        "tenant_id": TENANT,
        "asset_id": uuid.uuid4(),
        "channel_id": uuid.uuid4(),
        "platform": "sandbox",
        "status": JobStatus.QUEUED,
        "attempts": 0,
    }
    return PublishJob(**{**defaults, **fields})


def _alert(tenant_id: uuid.UUID | None) -> Alert:
    return Alert(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        severity="error",
        category="publish_failed",
        source="publisher",
        dedup_key="publish_failed:x",
        message="m",
        details={},
        channel_id=None,
        platform="sandbox",
        occurrences=1,
        first_seen_at=NOW,
        last_seen_at=NOW,
        status="active",
        resolution=None,
        escalation_level=0,
    )


def test_a_job_change_goes_to_its_tenants_jobs_subject() -> None:
    session = Added()
    job = _job(status=JobStatus.RETRYING, attempts=2, last_error_code="http_503")
    row = stage_job_change(cast(AsyncSession, session), job, NOW)
    assert session.rows == [row]
    assert isinstance(row, OutboxMessage)
    assert row.subject == f"herald.changes.{TENANT}.jobs"
    assert row.headers["Nats-Msg-Id"] == str(row.id)
    envelope = Envelope.model_validate_json(row.payload)
    assert (envelope.type, envelope.tenant_id, envelope.subject_id) == (
        "job.changed",
        TENANT,
        job.id,
    )
    change = envelope.payload(JobChanged)
    assert (change.status, change.attempts, change.error_code) == ("retrying", 2, "http_503")


def test_a_new_job_reads_as_queued_with_no_attempts() -> None:
    job = PublishJob(
        id=uuid.uuid4(),
        tenant_id=TENANT,
        asset_id=uuid.uuid4(),
        channel_id=uuid.uuid4(),
        platform="sandbox",
        status=JobStatus.QUEUED,
    )
    change = job_change(job)
    assert (change.status, change.attempts, change.external_id) == ("queued", 0, None)


def test_an_alert_change_goes_to_its_tenants_alerts_subject() -> None:
    session = Added()
    alert = _alert(TENANT)
    [row] = stage_alert_change(cast(AsyncSession, session), alert, "acknowledged", NOW)
    assert row.subject == f"herald.changes.{TENANT}.alerts"
    change = Envelope.model_validate_json(row.payload).payload(AlertChanged)
    assert (change.change, change.alert.id, change.alert.severity) == (
        "acknowledged",
        alert.id,
        "error",
    )


def test_an_operator_wide_alert_is_nobodys_live_update() -> None:
    session = Added()
    assert stage_alert_change(cast(AsyncSession, session), _alert(None), "raised", NOW) == []
    assert session.rows == []


def test_one_filter_takes_all_of_a_tenants_changes_and_nothing_else() -> None:
    stream_subject = CHANGES.subjects[0].removesuffix(">")
    assert tenant_changes(TENANT) == f"herald.changes.{TENANT}.>"
    assert tenant_changes(TENANT).startswith(stream_subject)
    assert CHANGES in STREAMS


def test_changes_keep_for_their_own_max_age() -> None:
    settings = HeraldSettings(changes_max_age_s=3600, stream_max_age_s=7200)
    assert max_age_of(CHANGES, settings) == 3600
    assert max_age_of(PUBLISH, settings) == 7200


def test_changes_must_outlive_the_duplicate_window() -> None:
    with pytest.raises(ValidationError, match="HERALD_STREAM_DUPLICATE_WINDOW_S"):
        HeraldSettings(changes_max_age_s=60, stream_duplicate_window_s=120)
