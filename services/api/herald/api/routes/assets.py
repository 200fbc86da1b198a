"""Assets: create, read, approve, cancel — thin routes over ``service_layer.assets``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter
from opentelemetry import trace

from herald.api.auth import Role, State, Who, require
from herald.api.schemas import AssetIn, AssetOut, JobSummary
from herald.api.service_layer import assets
from herald.api.service_layer.assets import AssetView
from herald.common.faults import fault_point

router = APIRouter(prefix="/v1/assets", tags=["assets"])
tracer = trace.get_tracer(__name__)
log = structlog.get_logger(__name__)


def _out(view: AssetView) -> AssetOut:
    derived = ("jobs", "publish_late_within_minutes")
    fields = {
        name: getattr(view.asset, name) for name in AssetOut.model_fields if name not in derived
    }
    late_s = view.asset.publish_late_within_s
    return AssetOut.model_validate(
        {
            **fields,
            "jobs": [JobSummary.model_validate(job, from_attributes=True) for job in view.jobs],
            "publish_late_within_minutes": None if late_s is None else late_s // 60,
        }
    )


@router.post("", status_code=201, dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def create_asset(body: AssetIn, who: Who, state: State) -> AssetOut:
    async with state.db.transaction() as session:
        return _out(await assets.create(session, who.tenant_id, body))


@router.get("/{asset_id}")
async def get_asset(asset_id: uuid.UUID, who: Who, state: State) -> AssetOut:
    async with state.db.transaction() as session:
        return _out(await assets.read(session, who.tenant_id, asset_id))


@router.post("/{asset_id}/approve", dependencies=[require(Role.REVIEWER)])
async def approve_asset(asset_id: uuid.UUID, who: Who, state: State) -> AssetOut:
    """Approve: the jobs, asset.approved and a publish request per due job, in one transaction."""
    with tracer.start_as_current_span(
        "asset.approve", attributes={"herald.asset_id": str(asset_id)}
    ):
        async with state.db.transaction() as session:
            view = await assets.approve(session, who.tenant_id, asset_id, datetime.now(UTC))
        fault_point("api.after_commit")
        await state.relay.send(view.staged)
    log.info("asset.approved", asset_id=str(asset_id), jobs=len(view.jobs))
    return _out(view)


@router.post("/{asset_id}/cancel", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def cancel_asset(asset_id: uuid.UUID, who: Who, state: State) -> AssetOut:
    """Cancel the asset and every unfinished job (a job mid-call keeps its call's outcome)."""
    async with state.db.transaction() as session:
        view = await assets.cancel(session, who.tenant_id, asset_id, datetime.now(UTC))
    await state.relay.send(view.staged)
    log.info("asset.cancelled", asset_id=str(asset_id), jobs=len(view.jobs))
    return _out(view)
