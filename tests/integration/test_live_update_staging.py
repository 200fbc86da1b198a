"""Live updates are staged with the change that causes them and relayed in order, against real
PostgreSQL: alerts raised, acknowledged and resolved; jobs cancelled and dispatched when due."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from herald.alerter.domain.policy import AlertPolicy
from herald.alerter.failures import Alerting
from herald.api.service_layer import alerts, job_control
from herald.common.db.engine import Database
from herald.common.db.models import PublishJob
from herald.common.domain.job_states import JobStatus
from herald.common.events import (
    AlertChanged,
    ConditionReported,
    Envelope,
    JobChanged,
    PublishFailed,
    PublishSucceeded,
)
from herald.common.live_updates import stage_job_change
from herald.common.outbox import OutboxRelay
from herald.recovery.domain.sweep_policy import SweepPolicy
from herald.recovery.sweeps import sweep_jobs
from tests.integration.conftest import JobRows

Sent = list[tuple[str, Envelope]]


def _capturing(db: Database) -> tuple[OutboxRelay, Sent]:
    """A relay whose JetStream is a list: what was sent, in the order it was published."""
    sent: Sent = []

    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        sent.append((subject, Envelope.model_validate_json(payload)))

    return OutboxRelay(db, publish, grace_s=3600), sent  # the fast path only


def _about(sent: Sent, subject_id: uuid.UUID) -> list[tuple[str, str]]:
    return [(subject, e.type) for subject, e in sent if e.subject_id == subject_id]


def _failed(rows: JobRows) -> Envelope:
    event = PublishFailed(
        job_id=rows.job_id,
        asset_id=rows.asset_id,
        channel_id=rows.channel_id,
        platform="sandbox",
        error_class="permanent",
        error_code="http_422",
        message="refused",
        attempt=1,
        final=True,
    )
    return Envelope.wrap(
        event, tenant_id=rows.tenant_id, subject_id=rows.job_id, now=datetime.now(UTC)
    )


def _succeeded(rows: JobRows) -> Envelope:
    event = PublishSucceeded(
        job_id=rows.job_id,
        asset_id=rows.asset_id,
        channel_id=rows.channel_id,
        platform="sandbox",
        external_id="p1",
        attempts=1,
    )
    return Envelope.wrap(
        event, tenant_id=rows.tenant_id, subject_id=rows.job_id, now=datetime.now(UTC)
    )


async def test_an_alerts_life_is_told_live_to_its_tenant(db: Database, job_rows: JobRows) -> None:
    relay, sent = _capturing(db)
    alerting = Alerting(db, relay, AlertPolicy(dedup_window_s=300, escalate_after=3))
    await alerting.publish_failed("live-failed", _failed(job_rows))
    [(_, raised)] = [(s, e) for s, e in sent if e.type == "alert.raised"]
    alert_id = raised.subject_id
    async with db.transaction() as session:
        alert = await alerts.alert_of(session, job_rows.tenant_id, alert_id, lock=True)
        acknowledged = alerts.acknowledge(session, alert, datetime.now(UTC))
    await relay.send(acknowledged)
    await alerting.publish_succeeded("live-succeeded", _succeeded(job_rows))

    live = f"herald.changes.{job_rows.tenant_id}.alerts"
    assert _about(sent, alert_id) == [
        ("herald.alerts.raised", "alert.raised"),
        (live, "alert.changed"),
        (live, "alert.changed"),
        ("herald.alerts.resolved", "alert.resolved"),
        (live, "alert.changed"),
    ]
    changes = [e.payload(AlertChanged) for s, e in sent if s == live]
    assert [(c.change, c.alert.status) for c in changes] == [
        ("raised", "active"),
        ("acknowledged", "acknowledged"),
        ("resolved", "resolved"),
    ]


async def test_an_operator_wide_alert_is_nobodys_live_update(db: Database) -> None:
    relay, sent = _capturing(db)
    alerting = Alerting(db, relay, AlertPolicy())
    report = ConditionReported(
        key=f"system:test_{uuid.uuid4().hex[:6]}", category="disk", message="full"
    )
    envelope = Envelope.wrap(report, tenant_id=None, subject_id=uuid.uuid4(), now=datetime.now(UTC))
    await alerting.condition_reported("live-system", envelope)
    assert [e.type for _, e in sent] == ["alert.raised"]


async def test_a_cancel_is_live_at_once_but_mid_call_only_with_the_outcome(
    db: Database, job_rows: JobRows
) -> None:
    async with db.transaction() as session:
        job = await job_control.locked_or_missing(session, job_rows.job_id, job_rows.tenant_id)
        job.status = JobStatus.PROCESSING  # a worker holds it: the cancel waits for the call
        mid_call = job_control.cancel(session, job, datetime.now(UTC))
    assert [row.subject for row in mid_call.staged] == ["herald.jobs.cancelled"]

    async with db.transaction() as session:
        job = await job_control.locked_or_missing(session, job_rows.job_id, job_rows.tenant_id)
        job.status, job.cancel_requested_at = JobStatus.QUEUED, None
        outcome = job_control.cancel(session, job, datetime.now(UTC))
    live = [row for row in outcome.staged if row.subject.startswith("herald.changes.")]
    [change] = [Envelope.model_validate_json(row.payload).payload(JobChanged) for row in live]
    assert (change.job_id, change.status) == (job_rows.job_id, "cancelled")


async def test_a_scheduled_job_falling_due_is_queued_live_before_its_request(
    db: Database, job_rows: JobRows
) -> None:
    relay, sent = _capturing(db)
    async with db.transaction() as session:
        await session.execute(
            update(PublishJob)
            .where(PublishJob.id == job_rows.job_id)
            .values(status=JobStatus.SCHEDULED, scheduled_for=datetime.now(UTC) - timedelta(1))
        )
    policy = SweepPolicy(queued_stale_s=30, retry_overdue_s=30, lease_grace_s=5)
    await sweep_jobs(db, relay, policy)
    mine = _about(sent, job_rows.job_id)
    assert mine[0] == (f"herald.changes.{job_rows.tenant_id}.jobs", "job.changed")
    assert [t for _, t in mine[1:]] == ["job.recovered", "publish.requested"]
    [change] = [
        e.payload(JobChanged)
        for _, e in sent
        if e.type == "job.changed" and e.subject_id == job_rows.job_id
    ]
    assert (change.status, change.attempts) == ("queued", 0)


async def test_the_background_relay_keeps_a_transactions_staging_order(
    db: Database, job_rows: JobRows
) -> None:
    """Rows of one transaction share created_at; a relay that takes them over (the fast path
    failed) still publishes them in the order they were staged."""
    relay, sent = _capturing(db)
    async with db.transaction() as session:
        job = await session.get_one(PublishJob, job_rows.job_id)
        staged = []
        for status in (JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.SUCCEEDED) * 5:
            job.status = status
            staged.append(stage_job_change(session, job, datetime.now(UTC)).id)
    await relay.drain(grace=False)
    assert [e.id for _, e in sent if e.id in set(staged)] == staged
