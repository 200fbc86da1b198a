"""The webhook sender: claims due deliveries, signs and POSTs them, records every try.

Safe to run in every alerter replica: claims are ``SKIP LOCKED`` and expire. A try whose outcome
could not be recorded (a crash, the database away) leaves its delivery claimed; once the claim
expires the delivery is sent again with the same ``webhook-id``, so receivers de-duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import httpx
import structlog
from opentelemetry import trace
from prometheus_client import Counter, Histogram

from herald.alerter.adapters import delivery_store
from herald.alerter.adapters.delivery_store import Due, TryRecord
from herald.alerter.domain.delivery_policy import TryResult, Verdict, decide
from herald.alerter.settings import AlerterSettings
from herald.common import webhook_signing as signing
from herald.common.credentials import CredentialBox
from herald.common.db.engine import Database
from herald.common.faults import fault_point
from herald.common.runtime import Runtime
from herald.common.url_guard import UnsafeUrl, resolve_and_check
from herald.common.webhooks import endpoint_secrets

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)

NOTIFICATIONS = Counter(
    "herald_alert_notifications_total",
    "Deliveries finished, once each: delivered, or given up (schedule ran out, endpoint gone)",
    ["event", "outcome"],
)
TRIES = Counter(
    "herald_webhook_tries_total",
    "Webhook requests by outcome (delivered, failed, refused by the SSRF guard)",
    ["outcome"],
)
DELIVERY_SECONDS = Histogram(
    "herald_webhook_delivery_seconds",
    "Duration of one webhook try (resolution, connection, request, response headers)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class DeliverySender:
    """Sends due deliveries, at most ``webhook_concurrency`` at once per process."""

    def __init__(
        self, db: Database, box: CredentialBox, settings: AlerterSettings, worker: str
    ) -> None:
        self._db, self._box, self._worker, self._settings = db, box, worker, settings
        self._schedule = settings.webhook_retry_schedule
        # no proxies from the environment: the SSRF guard checks the address we connect to
        self._client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_s,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=settings.webhook_concurrency),
        )
        self._woken = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Look for due deliveries now (call after committing new ones)."""
        self._woken.set()

    async def deliver_webhooks(self, runtime: Runtime) -> None:
        """The loop in the shape ``serve_worker(loops=[...])`` takes."""
        await self.run(runtime.stop)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: claim what is due whenever a slot is free, else wait for a wake-up."""
        watcher = asyncio.create_task(self._wake_on(stop))
        try:
            while not stop.is_set():
                self._woken.clear()
                try:
                    self._start(await self._claim())
                except Exception as error:  # nothing was claimed, so nothing is lost
                    log.warning("webhook.claim_failed", error=repr(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._woken.wait(), self._settings.webhook_poll_interval_s
                    )
            if self._inflight:  # let tries in flight record their outcome
                await asyncio.wait(self._inflight)
        finally:
            watcher.cancel()
            await self.aclose()

    async def send_due(self) -> int:
        """Claim one batch, send it and wait for every try to be recorded; returns its size.

        A try that crashed is logged (``_finished``) and its delivery stays claimed."""
        batch = await self._claim()
        await asyncio.gather(*self._start(batch), return_exceptions=True)
        return len(batch)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._woken.set()

    async def _claim(self) -> list[Due]:
        free = self._settings.webhook_concurrency - len(self._inflight)
        claim_s = self._settings.webhook_claim_s
        return await delivery_store.claim_due(
            self._db, datetime.now(UTC), limit=free, claim_s=claim_s
        )

    def _start(self, batch: list[Due]) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(self._deliver(d), name=str(d.delivery.id)) for d in batch]
        for task in tasks:
            self._inflight.add(task)
            task.add_done_callback(self._finished)
        return tasks

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._woken.set()  # a slot is free: more may be due
        if not task.cancelled() and (error := task.exception()) is not None:
            # the delivery stays claimed and is tried again when the claim expires
            log.error("webhook.try_crashed", delivery_id=task.get_name(), error=repr(error))

    async def _deliver(self, due: Due) -> None:
        delivery, endpoint = due.delivery, due.endpoint
        ids = {"delivery_id": str(delivery.id), "endpoint_id": str(endpoint.id)}
        if endpoint.deleted_at is not None:
            if await delivery_store.fail_orphan(self._db, due, datetime.now(UTC)):
                NOTIFICATIONS.labels(delivery.event_type, "given_up").inc()
                log.info("webhook.endpoint_deleted", **ids)
            return
        number = delivery.attempts + 1
        attributes: dict[str, str | int] = {**ids, "attempt": number}
        with tracer.start_as_current_span("webhook.try", attributes=attributes) as span:
            started, clock = datetime.now(UTC), time.perf_counter()
            result = await self._try(due, started)
            fault_point("alerter.mid_notification")
            seconds = time.perf_counter() - clock
            finished = datetime.now(UTC)
            decision = decide(number, result, finished, self._schedule)
            record = TryRecord(started, finished, result, seconds * 1000, self._worker)
            if result.http_status is not None:
                span.set_attribute("http.response.status_code", result.http_status)
            if decision.verdict is not Verdict.DELIVERED:
                span.set_status(trace.StatusCode.ERROR, record.error or "")
            recorded = await delivery_store.record_try(self._db, due, record, decision)
        DELIVERY_SECONDS.observe(seconds)
        TRIES.labels(decision.outcome).inc()
        fields = {**ids, "status": result.http_status, "attempt": number, "error": record.error}
        if not recorded:
            log.warning("webhook.result_dropped", outcome=decision.outcome, **fields)
        elif decision.verdict is Verdict.DELIVERED:
            NOTIFICATIONS.labels(delivery.event_type, "delivered").inc()
            log.info("webhook.delivered", **ids, status=result.http_status, attempt=number)
        elif decision.verdict is Verdict.GIVE_UP:
            NOTIFICATIONS.labels(delivery.event_type, "given_up").inc()
            log.error("webhook.given_up", outcome=decision.outcome, **fields)
        else:
            retry_at = decision.retry_at.isoformat() if decision.retry_at else None
            log.warning(f"webhook.{decision.outcome}", retry_at=retry_at, **fields)

    async def _try(self, due: Due, now: datetime) -> TryResult:
        """One guarded, signed POST; network trouble is a result, never an exception."""
        delivery, endpoint = due.delivery, due.endpoint
        timeout_s = self._settings.webhook_timeout_s
        try:
            current, previous = endpoint_secrets(self._box, endpoint)
            secrets = signing.signing_secrets(
                current, previous, endpoint.previous_secret_expires_at, now
            )
            headers = signing.headers(delivery.id, delivery.payload, now, secrets)
            async with asyncio.timeout(timeout_s):
                await resolve_and_check(endpoint.url, self._settings.webhook_allow_private_targets)
                async with self._client.stream(
                    "POST", endpoint.url, content=delivery.payload, headers=headers
                ) as response:  # the body is never read: the status is the answer
                    retry_after = response.headers.get("retry-after")
                    return TryResult(response.status_code, retry_after=retry_after)
        except UnsafeUrl as unsafe:
            return TryResult(refused=unsafe.reason)
        except TimeoutError:
            return TryResult(error=f"timeout: no answer within {timeout_s:g} s")
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
            return TryResult(error=f"{type(error).__name__}: {error}"[:500])
        except Exception as error:  # e.g. a secret that no longer opens, a name httpx refuses:
            # a recorded failed try, so the schedule runs out and the delivery ends failed
            log.error("webhook.try_refused", delivery_id=str(delivery.id), error=repr(error))
            return TryResult(error=f"{type(error).__name__}: {error}"[:500])


def build_delivery_sender(runtime: Runtime, settings: AlerterSettings) -> DeliverySender:
    """The sender of this process; ``sender.deliver_webhooks`` goes into ``loops``."""
    box = CredentialBox.from_setting(settings.credential_keys, settings.credential_active_key)
    return DeliverySender(runtime.db, box, settings, runtime.instance_id)
