"""Every few seconds: evaluate the threshold rules, escalate channels failing too often,
resolve what went quiet, and publish the count of open alerts. One replica at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from opentelemetry import trace
from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.alerter.adapters import alert_store, fleet_snapshot
from herald.alerter.domain.occurrences import Change, Occurrence, escalate_for_rate
from herald.alerter.domain.policy import AlertPolicy
from herald.alerter.domain.publish_alerts import alert_for_condition, failure_key
from herald.alerter.domain.rules import STATE_CATEGORIES, Condition, evaluate, resolves_quietly
from herald.alerter.domain.severity import Severity
from herald.alerter.failures import ALERTS_RESOLVED
from herald.common.db.engine import Database
from herald.common.db.models import Alert, OutboxMessage
from herald.common.events import AlertEscalated
from herald.common.outbox import OutboxRelay
from herald.common.pacing import sleep_unless_stopped

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)

RULES_LOCK = 0x48524C5253  # one evaluator at a time across replicas (advisory xact lock)
QUIET_BATCH = 500

ALERTS_ACTIVE = Gauge("herald_alerts_active", "Open alerts (active or acknowledged)", ["severity"])


async def run_rules(
    db: Database,
    relay: OutboxRelay,
    policy: AlertPolicy,
    forget_s: float,
    interval_s: float,
    stop: asyncio.Event,
) -> None:
    """Evaluate every ``interval_s`` until ``stop``; a failed evaluation is redone next tick
    (it changed nothing: its transaction rolled back)."""
    while not await sleep_unless_stopped(stop, interval_s):
        try:
            await evaluate_once(db, relay, policy, forget_s, now=None)
        except Exception as error:  # the database may be restarting; nothing is lost
            log.warning("alert.rules_failed", error=repr(error))


async def evaluate_once(
    db: Database, relay: OutboxRelay, policy: AlertPolicy, forget_s: float, now: datetime | None
) -> bool:
    """One evaluation; False when another replica holds the lock (nothing done)."""
    now = now or datetime.now(UTC)
    with tracer.start_as_current_span("alert.rules"):
        async with db.transaction() as session:
            locked = await session.scalar(select(func.pg_try_advisory_xact_lock(RULES_LOCK)))
            if not locked:
                return False
            await fleet_snapshot.forget_heartbeats(session, now, forget_s)
            snapshot = await fleet_snapshot.read_snapshot(
                session, now, policy.dedup_window_s, policy.stuck_processing_s
            )
            conditions = evaluate(snapshot, now, policy)
            rows = await _reconcile(session, conditions, now, policy)
            rows += await _escalate_failing_channels(session, now, policy)
            rows += await _resolve_quiet(session, now, policy)
            await _count_open(session)
    await relay.send(rows)
    return True


async def _reconcile(
    session: AsyncSession, conditions: list[Condition], now: datetime, policy: AlertPolicy
) -> list[OutboxMessage]:
    rows: list[OutboxMessage] = []
    holding = {(c.tenant_id, c.dedup_key) for c in conditions}
    for condition in conditions:
        draft = alert_for_condition(condition)
        existing = await alert_store.open_alert(session, condition.tenant_id, draft.dedup_key)
        if existing is None:
            alert, occurrence, previous = await alert_store.record(
                session, draft, tenant_id=condition.tenant_id, now=now, policy=policy
            )
            log.info("alert.raised", alert_id=str(alert.id), dedup_key=draft.dedup_key)
        else:  # a condition that still holds is not a repeat: it refreshes, it may worsen
            alert, previous = existing, existing.severity
            alert.last_seen_at, alert.message, alert.details = now, draft.message, draft.details
            occurrence = Occurrence(Change.REPEATED, alert_store.counts_of(alert))
            if draft.severity.rank > Severity(alert.severity).rank:
                alert.severity, alert.escalated_at = draft.severity.value, now
                alert.escalation_level += 1
                occurrence = Occurrence(Change.ESCALATED, occurrence.counts, "severity")
        rows += alert_store.stage_news(session, alert, occurrence, now, previous)
    cleared = await session.scalars(
        select(Alert).where(Alert.source == "rules", Alert.status != "resolved").with_for_update()
    )
    for alert in cleared:
        if (alert.tenant_id, alert.dedup_key) not in holding:
            alert_store.resolve(alert, "auto", now)
            rows += alert_store.stage_resolved(session, alert, "condition_cleared", now)
            ALERTS_RESOLVED.labels("auto").inc()
            log.info("alert.resolved", alert_id=str(alert.id), reason="condition_cleared")
    return rows


async def _escalate_failing_channels(
    session: AsyncSession, now: datetime, policy: AlertPolicy
) -> list[OutboxMessage]:
    rows: list[OutboxMessage] = []
    for rate in await fleet_snapshot.channel_rates(session, now, policy.dedup_window_s):
        if rate.attempts < policy.failure_rate_min_attempts:
            continue
        alert = await alert_store.open_alert(session, rate.tenant_id, failure_key(rate.channel_id))
        if alert is None:
            continue
        counts = escalate_for_rate(
            alert_store.counts_of(alert), rate.rate, rate.attempts, now, policy
        )
        if counts is None:
            continue
        previous = alert.severity
        alert_store.apply_counts(alert, counts)
        event = AlertEscalated(
            alert=alert_store.snapshot(alert), previous_severity=previous, reason="failure_rate"
        )
        rows += alert_store.stage_event(session, alert, event, now)
        log.info("alert.escalated", alert_id=str(alert.id), reason="failure_rate", rate=rate.rate)
    return rows


async def _resolve_quiet(
    session: AsyncSession, now: datetime, policy: AlertPolicy
) -> list[OutboxMessage]:
    quiet_since = now - timedelta(seconds=policy.quiet_resolve_s)
    candidates = await session.scalars(
        select(Alert)
        .where(
            Alert.status != "resolved",
            Alert.source != "rules",
            Alert.last_seen_at <= quiet_since,
            Alert.category.not_in(STATE_CATEGORIES),
        )
        .order_by(Alert.last_seen_at)
        .limit(QUIET_BATCH)
        .with_for_update(skip_locked=True)
    )
    rows: list[OutboxMessage] = []
    for alert in candidates:
        if not resolves_quietly(alert.category, alert.last_seen_at, now, policy):
            continue
        alert_store.resolve(alert, "auto", now)
        rows += alert_store.stage_resolved(session, alert, "quiet", now)
        ALERTS_RESOLVED.labels("auto").inc()
        log.info("alert.resolved", alert_id=str(alert.id), reason="quiet")
    return rows


async def _count_open(session: AsyncSession) -> None:
    counts = dict(
        (
            await session.execute(
                select(Alert.severity, func.count())
                .where(Alert.status != "resolved")
                .group_by(Alert.severity)
            )
        ).all()
    )
    for severity in Severity:
        ALERTS_ACTIVE.labels(severity.value).set(counts.get(severity.value, 0))
