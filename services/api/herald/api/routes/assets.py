"""Assets and their review: create, list, read, edit, submit, approve, reject, cancel — thin
routes over ``service_layer.assets``, each change recorded in the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Query
from opentelemetry import trace

from herald.api.auth import Role, State, Who, require
from herald.api.domain.review import shown_status
from herald.api.schemas import AssetIn, AssetOut, AssetPage, AssetPatch, JobSummary, RejectIn
from herald.api.service_layer import assets, audit
from herald.api.service_layer.assets import AssetView
from herald.common.domain.asset_states import AssetStatus
from herald.common.domain.job_states import JobStatus
from herald.common.faults import fault_point

router = APIRouter(prefix="/v1/assets", tags=["assets"])
tracer = trace.get_tracer(__name__)
log = structlog.get_logger(__name__)


def _out(view: AssetView) -> AssetOut:
    derived = ("jobs", "publish_late_within_minutes", "status", "review_status")
    asset = view.asset
    fields = {name: getattr(asset, name) for name in AssetOut.model_fields if name not in derived}
    late_s = asset.publish_late_within_s
    review = AssetStatus(asset.status)
    return AssetOut.model_validate(
        {
            **fields,
            "status": shown_status(review, [(JobStatus(j.status), j.attempts) for j in view.jobs]),
            "review_status": review.value,
            "jobs": [JobSummary.model_validate(job, from_attributes=True) for job in view.jobs],
            "publish_late_within_minutes": None if late_s is None else late_s // 60,
        }
    )


EDITORS = [require(Role.EDITOR)]
REVIEWERS = [require(Role.REVIEWER)]


@router.post("", status_code=201, dependencies=EDITORS)
async def create_asset(body: AssetIn, who: Who, state: State) -> AssetOut:
    """Create a draft. Submit it for review, or have a reviewer approve it directly."""
    async with state.db.transaction(who.tenant_id) as session:
        view = await assets.create(session, who.tenant_id, body, who.key_id)
        audit.record(session, who.tenant_id, who, "asset.created", "asset", view.asset.id)
        return _out(view)


@router.get("")
async def list_assets(
    who: Who,
    state: State,
    status: Annotated[
        AssetStatus | None,
        Query(description="review status; approved matches every publication state"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: uuid.UUID | None = None,
) -> AssetPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    async with state.db.transaction(who.tenant_id) as session:
        views, next_cursor = await assets.page(
            session, who.tenant_id, assets.AssetFilter(status), limit, cursor
        )
        return AssetPage(items=[_out(v) for v in views], next_cursor=next_cursor)


@router.get("/{asset_id}")
async def get_asset(asset_id: uuid.UUID, who: Who, state: State) -> AssetOut:
    async with state.db.transaction(who.tenant_id) as session:
        return _out(await assets.read(session, who.tenant_id, asset_id))


@router.patch("/{asset_id}", dependencies=EDITORS)
async def edit_asset(asset_id: uuid.UUID, body: AssetPatch, who: Who, state: State) -> AssetOut:
    """Change what is sent; an approved asset whose jobs have not started goes back to review."""
    async with state.db.transaction(who.tenant_id) as session:
        view, fields, was = await assets.edit(
            session, who.tenant_id, asset_id, body, datetime.now(UTC)
        )
        audit.record(
            session,
            who.tenant_id,
            who,
            "asset.edited",
            "asset",
            asset_id,
            fields=fields,
            status_before=was,
            status_after=view.asset.status,
        )
        out = _out(view)
    log.info("asset.edited", asset_id=str(asset_id), fields=fields, status=out.status)
    return out


@router.post("/{asset_id}/submit", dependencies=EDITORS)
async def submit_asset(asset_id: uuid.UUID, who: Who, state: State) -> AssetOut:
    """Ask a reviewer to approve: draft or rejected → submitted."""
    async with state.db.transaction(who.tenant_id) as session:
        view = await assets.submit(session, who.tenant_id, asset_id, datetime.now(UTC))
        audit.record(session, who.tenant_id, who, "asset.submitted", "asset", asset_id)
        out = _out(view)
    log.info("asset.submitted", asset_id=str(asset_id))
    return out


@router.post("/{asset_id}/reject", dependencies=REVIEWERS)
async def reject_asset(asset_id: uuid.UUID, body: RejectIn, who: Who, state: State) -> AssetOut:
    """Refuse it with a reason the editor sees; it can be edited and submitted again."""
    async with state.db.transaction(who.tenant_id) as session:
        view = await assets.reject(
            session, who.tenant_id, asset_id, body.reason, datetime.now(UTC), who.key_id
        )
        audit.record(
            session, who.tenant_id, who, "asset.rejected", "asset", asset_id, reason=body.reason
        )
        out = _out(view)
    log.info("asset.rejected", asset_id=str(asset_id))
    return out


@router.post("/{asset_id}/approve", dependencies=REVIEWERS)
async def approve_asset(asset_id: uuid.UUID, who: Who, state: State) -> AssetOut:
    """Approve: the jobs, asset.approved and a publish request per due job, in one transaction."""
    with tracer.start_as_current_span(
        "asset.approve", attributes={"herald.asset_id": str(asset_id)}
    ):
        async with state.db.transaction(who.tenant_id) as session:
            view = await assets.approve(session, who.tenant_id, asset_id, datetime.now(UTC), who)
        fault_point("api.after_commit")
        await state.relay.send(view.staged)
    log.info("asset.approved", asset_id=str(asset_id), jobs=len(view.jobs))
    return _out(view)


@router.post("/{asset_id}/cancel", dependencies=[require(Role.EDITOR, Role.REVIEWER)])
async def cancel_asset(asset_id: uuid.UUID, who: Who, state: State) -> AssetOut:
    """Cancel the asset and every unfinished job (a job mid-call keeps its call's outcome)."""
    async with state.db.transaction(who.tenant_id) as session:
        view = await assets.cancel(session, who.tenant_id, asset_id, datetime.now(UTC))
        audit.record(
            session,
            who.tenant_id,
            who,
            "asset.cancelled",
            "asset",
            asset_id,
            jobs_cancelled=len(view.staged),
        )
    await state.relay.send(view.staged)
    log.info("asset.cancelled", asset_id=str(asset_id), jobs=len(view.jobs))
    return _out(view)
