"""Alerts against real PostgreSQL: de-duplication under concurrency, escalation, resolution,
threshold rules under their advisory lock, and notification decisions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from nats.js import JetStreamContext
from sqlalchemy import func, select, text

from herald.alerter.domain.policy import AlertPolicy
from herald.alerter.failures import Alerting
from herald.alerter.notifier import Notifier
from herald.alerter.threshold_rules import RULES_LOCK, evaluate_once
from herald.common.consumers import Received
from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.db.models import (
    Alert,
    Channel,
    OutboxMessage,
    PublishAttempt,
    PublishJob,
    ServiceHeartbeat,
    Silence,
    WebhookDelivery,
    WebhookEndpoint,
)
from herald.common.domain.job_states import JobStatus
from herald.common.events import ConditionReported, Envelope, PublishFailed, PublishSucceeded
from herald.common.ids import new_id
from herald.common.outbox import OutboxRelay
from herald.common.settings import HeraldSettings
from herald.common.webhooks import new_secret, seal_secret
from tests.integration.conftest import JobRows, add_job_rows, recorded_statements

POLICY = AlertPolicy(dedup_window_s=300, escalate_after=3)


def _relay(db: Database, js: JetStreamContext) -> OutboxRelay:
    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        await js.publish(subject, payload, headers=headers)

    return OutboxRelay(db, publish, grace_s=0)


def _failed(rows: JobRows, *, final: bool = True) -> Envelope:
    event = PublishFailed(
        job_id=rows.job_id,
        asset_id=rows.asset_id,
        channel_id=rows.channel_id,
        platform="sandbox",
        error_class="permanent",
        error_code="http_422",
        message="refused",
        http_status=422,
        attempt=1,
        final=final,
    )
    return Envelope.wrap(event, tenant_id=rows.tenant_id, subject_id=rows.job_id, now=_now())


def _succeeded(rows: JobRows) -> Envelope:
    event = PublishSucceeded(
        job_id=rows.job_id,
        asset_id=rows.asset_id,
        channel_id=rows.channel_id,
        platform="sandbox",
        external_id="p1",
        attempts=1,
    )
    return Envelope.wrap(event, tenant_id=rows.tenant_id, subject_id=rows.job_id, now=_now())


def _now() -> datetime:
    return datetime.now(UTC)


async def _alerts_of(db: Database, tenant_id: uuid.UUID) -> list[Alert]:
    async with db.transaction() as session:
        return list(await session.scalars(select(Alert).where(Alert.tenant_id == tenant_id)))


async def _events_about(db: Database, alert_id: uuid.UUID) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(  # alert events only: other tests leave other rows
            select(OutboxMessage)
            .where(OutboxMessage.subject.like("herald.alerts.%"))
            .order_by(OutboxMessage.created_at)
        )
        envelopes = [Envelope.model_validate_json(row.payload) for row in rows]
    # the tenant's live updates (alert.changed) are tested in test_live_update_staging.py
    return [e.type for e in envelopes if e.subject_id == alert_id and e.type != "alert.changed"]


async def test_fifty_concurrent_failures_make_one_alert_escalated_once(
    db: Database, js: JetStreamContext, job_rows: JobRows
) -> None:
    alerting = Alerting(db, _relay(db, js), POLICY)
    envelopes = [_failed(job_rows) for _ in range(50)]

    async def deliver(envelope: Envelope) -> None:
        for _ in range(20):  # a lost race with a resolution is redelivered, as JetStream would
            try:
                await alerting.publish_failed("test-failed", envelope)
                return
            except LookupError:
                await asyncio.sleep(0.01)

    await asyncio.gather(*(deliver(e) for e in envelopes))
    await alerting.publish_failed("test-failed", envelopes[0])  # a redelivery counts nothing

    (alert,) = await _alerts_of(db, job_rows.tenant_id)
    assert (alert.occurrences, alert.severity, alert.escalation_level) == (50, "critical", 1)
    assert alert.status == "active"
    # concurrent transactions: the outbox's created_at does not order them, so compare as a set
    assert sorted(await _events_about(db, alert.id)) == ["alert.escalated", "alert.raised"]


async def test_a_success_resolves_the_channel_alert_once(
    db: Database, js: JetStreamContext, job_rows: JobRows
) -> None:
    alerting = Alerting(db, _relay(db, js), POLICY)
    await alerting.publish_failed("test-failed", _failed(job_rows))
    await alerting.publish_succeeded("test-succeeded", _succeeded(job_rows))
    await alerting.publish_succeeded("test-succeeded", _succeeded(job_rows))
    (alert,) = await _alerts_of(db, job_rows.tenant_id)
    assert (alert.status, alert.resolution) == ("resolved", "auto")
    assert await _events_about(db, alert.id) == ["alert.raised", "alert.resolved"]

    await alerting.publish_failed("test-failed", _failed(job_rows))  # a later failure: new alert
    alerts = await _alerts_of(db, job_rows.tenant_id)
    assert sorted(a.status for a in alerts) == ["active", "resolved"]


TRACE = "0af7651916cd43dd8448eb211c80319c"


def _received(envelope: Envelope) -> Received:
    return Received(envelope, {"traceparent": f"00-{TRACE}-b7ad6b7169203331-01"})


async def test_a_batch_of_successes_resolves_only_the_alerts_they_meet(
    db: Database, js: JetStreamContext, job_rows: JobRows, settings: HeraldSettings
) -> None:
    """One read for the batch: the success on the failing channel resolves its alert (in that
    success's trace); the successes on a quiet channel, and a success claiming another tenant,
    resolve nothing."""
    alerting = Alerting(db, _relay(db, js), POLICY)
    quiet = await add_job_rows(db, settings.credential_keys)
    await alerting.publish_failed("test-failed", _failed(job_rows))
    other_tenant = _succeeded(job_rows).model_copy(update={"tenant_id": quiet.tenant_id})
    batch = [_received(e) for e in (_succeeded(quiet), other_tenant, _succeeded(quiet))]
    with recorded_statements(db) as statements:
        await alerting.publish_succeeded_many("test-succeeded", batch)
    assert [s for s in statements if "FROM alerts" in s] == [statements[0]], "one read"
    (alert,) = await _alerts_of(db, job_rows.tenant_id)
    assert alert.status == "active", "no success of its tenant on its channel yet"

    await alerting.publish_succeeded_many(
        "test-succeeded", [*batch, _received(_succeeded(job_rows))]
    )
    (alert,) = await _alerts_of(db, job_rows.tenant_id)
    assert (alert.status, alert.resolution) == ("resolved", "auto")
    assert await _events_about(db, alert.id) == ["alert.raised", "alert.resolved"]
    assert await _alerts_of(db, quiet.tenant_id) == []
    async with db.transaction() as session:
        rows = await session.scalars(  # alert events only: other tests leave other rows
            select(OutboxMessage)
            .where(OutboxMessage.subject.like("herald.alerts.%"))
            .order_by(OutboxMessage.created_at)
        )
        envelopes = [(row.headers, Envelope.model_validate_json(row.payload)) for row in rows]
    resolved = [h for h, e in envelopes if e.type == "alert.resolved" and e.subject_id == alert.id]
    assert [h["traceparent"].split("-")[1] for h in resolved] == [TRACE]


async def _failing_channels(db: Database, rows: JobRows, channels: int, now: datetime) -> None:
    """``channels`` more sandbox channels of the tenant, each with 4 failed attempts."""
    async with db.transaction() as session:
        for n in range(channels):
            channel = Channel(
                id=new_id(), tenant_id=rows.tenant_id, platform="sandbox", name=f"c{n}", config={}
            )
            session.add(channel)
            await session.flush()
            job = PublishJob(
                id=new_id(),
                tenant_id=rows.tenant_id,
                asset_id=rows.asset_id,
                channel_id=channel.id,
                platform="sandbox",
                status=JobStatus.FAILED,
            )
            session.add(job)
            await session.flush()
            for number in range(1, 5):
                session.add(
                    PublishAttempt(
                        tenant_id=rows.tenant_id,
                        job_id=job.id,
                        number=number,
                        worker="w",
                        fencing_token=1,
                        started_at=now,
                        finished_at=now,
                        outcome="failed",
                    )
                )


async def test_a_platform_failing_on_three_channels_raises_then_clears(
    db: Database, js: JetStreamContext, job_rows: JobRows
) -> None:
    relay = _relay(db, js)
    now = _now()
    await _failing_channels(db, job_rows, 3, now)
    assert await evaluate_once(db, relay, POLICY, 3600, now)
    (platform,) = [a for a in await _alerts_of(db, job_rows.tenant_id) if a.category == "platform"]
    assert (platform.dedup_key, platform.status, platform.severity) == (
        "platform_failing:sandbox",
        "active",
        "error",
    )
    assert await evaluate_once(db, relay, POLICY, 3600, now + timedelta(seconds=1))
    assert len(await _alerts_of(db, job_rows.tenant_id)) == 1  # still one, refreshed

    later = now + timedelta(seconds=POLICY.dedup_window_s + 1)  # the failures left the window
    assert await evaluate_once(db, relay, POLICY, 3600, later)
    (cleared,) = await _alerts_of(db, job_rows.tenant_id)
    assert (cleared.status, cleared.resolution) == ("resolved", "auto")
    assert await _events_about(db, cleared.id) == ["alert.raised", "alert.resolved"]


async def test_quiet_alerts_resolve_themselves(
    db: Database, js: JetStreamContext, job_rows: JobRows
) -> None:
    relay = _relay(db, js)
    await Alerting(db, relay, POLICY).publish_failed("test-failed", _failed(job_rows))
    soon = _now() + timedelta(seconds=POLICY.quiet_resolve_s - 60)
    await evaluate_once(db, relay, POLICY, 1e9, soon)
    assert [a.status for a in await _alerts_of(db, job_rows.tenant_id)] == ["active"]
    await evaluate_once(db, relay, POLICY, 1e9, _now() + timedelta(seconds=POLICY.quiet_resolve_s))
    (alert,) = await _alerts_of(db, job_rows.tenant_id)
    assert (alert.status, alert.resolution) == ("resolved", "auto")


async def test_only_one_replica_evaluates_at_a_time(db: Database, js: JetStreamContext) -> None:
    async with db.engine.connect() as holder:
        await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": RULES_LOCK})
        try:
            assert not await evaluate_once(db, _relay(db, js), POLICY, 3600, None)
        finally:
            await holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RULES_LOCK})
    assert await evaluate_once(db, _relay(db, js), POLICY, 3600, None)


async def _alert_event(db: Database, js: JetStreamContext, rows: JobRows) -> Envelope:
    await Alerting(db, _relay(db, js), POLICY).publish_failed("test-failed", _failed(rows))
    (alert,) = await _alerts_of(db, rows.tenant_id)
    async with db.transaction() as session:
        outbox = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.subject.like("herald.alerts.%"))
        )
        envelopes = [Envelope.model_validate_json(row.payload) for row in outbox]
    return next(e for e in envelopes if e.subject_id == alert.id and e.type == "alert.raised")


async def _endpoint(db: Database, rows: JobRows, settings: HeraldSettings) -> uuid.UUID:
    """An endpoint nobody listens on (port 9, discard): its deliveries fail and are retried."""
    box = CredentialBox.from_setting(settings.credential_keys)
    sealed = seal_secret(box, new_secret())
    async with db.transaction() as session:
        endpoint = WebhookEndpoint(
            tenant_id=rows.tenant_id,
            url="http://127.0.0.1:9/hook",
            events=[],
            secret_ciphertext=sealed.ciphertext,
            secret_key_id=sealed.key_id,
        )
        session.add(endpoint)
    return endpoint.id


async def _deliveries(db: Database, endpoint_id: uuid.UUID) -> int:
    async with db.transaction() as session:
        return int(
            await session.scalar(
                select(func.count()).where(WebhookDelivery.endpoint_id == endpoint_id)
            )
            or 0
        )


async def test_a_raised_alert_becomes_one_delivery_per_endpoint(
    db: Database, js: JetStreamContext, job_rows: JobRows, settings: HeraldSettings
) -> None:
    endpoint = await _endpoint(db, job_rows, settings)
    woken: list[bool] = []
    notifier = Notifier(db, lambda: woken.append(True))
    envelope = await _alert_event(db, js, job_rows)
    await notifier.alert_changed("test-notify", envelope)
    await notifier.alert_changed("test-notify", envelope)  # redelivered: nothing more
    assert await _deliveries(db, endpoint) == 1
    assert woken == [True]
    (alert,) = await _alerts_of(db, job_rows.tenant_id)
    assert alert.notification == "sent"


async def test_a_silenced_alert_is_stored_but_not_delivered(
    db: Database, js: JetStreamContext, job_rows: JobRows, settings: HeraldSettings
) -> None:
    endpoint = await _endpoint(db, job_rows, settings)
    async with db.transaction() as session:
        silence = Silence(
            tenant_id=job_rows.tenant_id,
            channel_id=job_rows.channel_id,
            reason="maintenance",
            starts_at=_now() - timedelta(minutes=1),
            ends_at=_now() + timedelta(hours=1),
        )
        session.add(silence)
    envelope = await _alert_event(db, js, job_rows)
    await Notifier(db, lambda: None).alert_changed("test-notify", envelope)
    assert await _deliveries(db, endpoint) == 0
    (alert,) = await _alerts_of(db, job_rows.tenant_id)
    assert alert.notification == f"silenced:{silence.id}"


async def test_a_silent_instance_raises_an_operator_alert_until_it_is_forgotten(
    db: Database, js: JetStreamContext
) -> None:
    relay, now = _relay(db, js), _now()
    instance = f"host:{uuid.uuid4().hex[:6]}"
    async with db.transaction() as session:
        session.add(
            ServiceHeartbeat(
                service="publisher",
                instance_id=instance,
                started_at=now - timedelta(minutes=5),
                last_seen_at=now - timedelta(seconds=POLICY.heartbeat_stale_s + 1),
            )
        )
    key = f"rule:heartbeat:publisher:{instance}"

    async def alert() -> Alert | None:
        async with db.transaction() as session:
            return await session.scalar(select(Alert).where(Alert.dedup_key == key))

    await evaluate_once(db, relay, POLICY, 3600, now)
    raised = await alert()
    assert raised is not None
    assert (raised.tenant_id, raised.category, raised.status) == (None, "service_down", "active")

    await evaluate_once(db, relay, POLICY, 3600, now + timedelta(hours=1))  # forgotten
    cleared = await alert()
    assert cleared is not None
    assert (cleared.status, cleared.resolution) == ("resolved", "auto")


async def test_a_reported_condition_raises_an_alert_until_it_is_reported_gone(
    db: Database, js: JetStreamContext, job_rows: JobRows
) -> None:
    alerting = Alerting(db, _relay(db, js), POLICY)

    def report(active: bool) -> Envelope:
        event = ConditionReported(
            key="system:disk_full",
            category="disk",
            severity="critical",
            message="the media cache disk is full",
            active=active,
        )
        return Envelope.wrap(
            event, tenant_id=job_rows.tenant_id, subject_id=job_rows.tenant_id, now=_now()
        )

    await alerting.condition_reported("test-system", report(True))
    (alert,) = await _alerts_of(db, job_rows.tenant_id)
    assert (alert.dedup_key, alert.severity, alert.source) == (
        "system:disk_full",
        "critical",
        "system",
    )
    await alerting.condition_reported("test-system", report(False))
    (cleared,) = await _alerts_of(db, job_rows.tenant_id)
    assert (cleared.status, cleared.resolution) == ("resolved", "auto")
    assert await _events_about(db, cleared.id) == ["alert.raised", "alert.resolved"]


async def test_a_channel_failing_too_often_escalates_once_a_window(
    db: Database, js: JetStreamContext, job_rows: JobRows
) -> None:
    """One final failure opens an error alert; its channel's attempts then fail at least half
    of ten times inside the window, so the rules escalate it to critical, once."""
    relay, now = _relay(db, js), _now()
    await Alerting(db, relay, POLICY).publish_failed("test-failed", _failed(job_rows))
    async with db.transaction() as session:
        for number in range(1, 11):
            session.add(
                PublishAttempt(
                    tenant_id=job_rows.tenant_id,
                    job_id=job_rows.job_id,
                    number=number,
                    worker="w",
                    fencing_token=1,
                    started_at=now,
                    finished_at=now,
                    outcome="failed" if number <= 6 else "succeeded",
                )
            )
    await evaluate_once(db, relay, POLICY, 3600, now)
    await evaluate_once(db, relay, POLICY, 3600, now + timedelta(seconds=1))
    (alert,) = await _alerts_of(db, job_rows.tenant_id)
    assert (alert.severity, alert.escalation_level) == ("critical", 1)
    assert sorted(await _events_about(db, alert.id)) == ["alert.escalated", "alert.raised"]
