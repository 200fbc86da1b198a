"""Wiring of the recovery service: a start-up sweep, then periodic sweeps."""

from __future__ import annotations

import asyncio

import structlog

from herald.common.pacing import sleep_unless_stopped
from herald.common.runtime import Runtime, build_runtime, serve_worker
from herald.common.settings import load_settings
from herald.common.streams import RECOVERY_DEAD_LETTERS
from herald.recovery.fleet_gauges import report_fleet
from herald.recovery.handlers import build_router
from herald.recovery.settings import RecoverySettings
from herald.recovery.sweeps import clear_stale_locks, drain_outbox, prune_finished, sweep_jobs

log = structlog.get_logger(__name__)


async def run(settings: RecoverySettings) -> None:
    runtime = build_runtime(settings)
    policy = settings.sweep_policy()

    async def startup_sweep(rt: Runtime) -> None:
        # no grace at start-up: whatever is unsent now was left by a process that stopped (a
        # live one's row in flight or its mark lingering goes out twice; JetStream keeps one)
        await drain_outbox(rt.relay, grace=False)

    async def sweeps(rt: Runtime) -> None:
        while not await sleep_unless_stopped(rt.stop, settings.sweep_interval_s):
            try:
                await drain_outbox(rt.relay, grace=True)
                await sweep_jobs(rt.db, rt.relay, policy)
                await clear_stale_locks(rt.db, settings.lock_grace_s, settings.sweep_batch_size)
            except Exception as error:  # a failed sweep is retried on the next tick
                log.warning("recovery.sweep_failed", error=str(error))

    async def retention(rt: Runtime) -> None:
        while not await sleep_unless_stopped(rt.stop, settings.prune_interval_s):
            try:
                await prune_finished(rt.db, settings.retention_policy())
            except Exception as error:  # pruned on the next tick; nothing depends on it
                log.warning("recovery.prune_failed", error=str(error))

    async def fleet_gauges(rt: Runtime) -> None:
        while not await sleep_unless_stopped(rt.stop, settings.fleet_gauges_interval_s):
            if rt.js is None:  # connected before the loops start
                continue
            try:
                await report_fleet(
                    rt.db, rt.js, settings.instance_stale_s, settings.metrics_tenant_labels
                )
            except Exception as error:  # read again on the next tick
                log.warning("recovery.fleet_gauges_failed", error=str(error))

    await serve_worker(
        runtime,
        [build_router(runtime, settings)],
        [RECOVERY_DEAD_LETTERS],
        loops=[sweeps, retention, fleet_gauges],
        on_start=startup_sweep,
    )


def main() -> None:
    asyncio.run(run(load_settings(RecoverySettings)))


if __name__ == "__main__":
    main()
