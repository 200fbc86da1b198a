"""One trace from the approve request through the publisher's attempt to the alert it raised,
exported over OTLP/HTTP to a real receiver; its trace id in the services' log lines."""

from __future__ import annotations

import uuid

import httpx

from tests.e2e.conftest import System, Tenant, eventually, make_channel
from tests.otlp_collector import Collector, ReceivedSpan

SERVER, CLIENT, CONSUMER = 2, 3, 5  # OTLP SpanKind values


async def test_one_trace_spans_the_approve_request_the_attempt_and_the_alert(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    tenant: Tenant,
    collector: Collector,
    system: System,
) -> None:
    account = f"traced-{uuid.uuid4().hex[:6]}"
    channel = await make_channel(api, tenant, account)
    await sandbox.post("/faults", json={"account": account, "responses": [{"status": 422}]})
    asset = await api.post(
        "/v1/assets",
        headers=tenant.auth,
        json={"title": "t", "body": "b", "channel_ids": [channel]},
    )
    asset_id = asset.json()["id"]
    approved = await api.post(f"/v1/assets/{asset_id}/approve", headers=tenant.auth)
    assert approved.status_code == 200, approved.text

    def approve_span() -> ReceivedSpan | None:
        return next(
            (
                span
                for span in collector.spans
                if span.kind == SERVER
                and asset_id in span.attributes.get("url.path", "")
                and span.service == "herald-api"
            ),
            None,
        )

    await eventually(lambda: _async(approve_span()), timeout=15)
    root = approve_span()
    assert root is not None and root.parent_span_id == ""  # the request starts the trace

    def alert_handled() -> bool:  # the alerter's consumer span ends last
        spans = collector.trace(root.trace_id)
        return any(s.service == "herald-alerter" and s.kind == CONSUMER for s in spans)

    await eventually(lambda: _async(alert_handled()), timeout=30)

    def complete() -> bool:  # every span's parent has arrived (children are exported first)
        spans = collector.trace(root.trace_id)
        ids = {s.span_id for s in spans}
        return all(not s.parent_span_id or s.parent_span_id in ids for s in spans)

    await eventually(lambda: _async(complete()), timeout=15)
    want = {"herald-api", "herald-publisher", "herald-alerter"}
    spans = collector.trace(root.trace_id)
    names = {(span.service, span.name) for span in spans}
    assert ("herald-publisher", "publish.attempt") in names
    assert any(s.service == "herald-publisher" and s.kind == CONSUMER for s in spans)
    assert any(s.service == "herald-alerter" and s.kind == CONSUMER for s in spans)
    platform_calls = [s for s in spans if s.service == "herald-publisher" and s.kind == CLIENT]
    sandbox_url = system.sandbox_url
    assert any(s.name == "POST" and sandbox_url in _url(s) for s in platform_calls), platform_calls
    queries = [s for s in spans if s.attributes.get("db.system") == "postgresql"]
    assert {s.service for s in queries} >= want  # asyncpg is instrumented in every service
    ids = {s.span_id for s in spans}
    orphans = [s for s in spans if s.parent_span_id and s.parent_span_id not in ids]
    assert not orphans, f"spans whose parent never arrived: {orphans[:3]}"

    async def logged() -> bool:
        lines = system.log_file.read_text().splitlines()
        return any(root.trace_id in line for line in lines if line.lstrip().startswith("publisher"))

    await eventually(logged, timeout=10)


def _url(span: ReceivedSpan) -> str:
    return span.attributes.get("url.full") or span.attributes.get("http.url") or ""


async def _async(value: object) -> object:
    return value
