"""Every metric a dashboard panel or an alert rule reads is exposed by a running service, after
the end-to-end flow: a post published, a post failed, an alert raised."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx

from tests.deploy.metric_names import used_metric_names
from tests.e2e.conftest import System, Tenant, eventually, make_channel

REPO = Path(__file__).resolve().parents[2]
TYPE_LINE = re.compile(r"^# TYPE (\S+) (\w+)$", re.MULTILINE)
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)", re.MULTILINE)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SERIES_OF = {
    "counter": ("", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "untyped": ("",),
    "info": ("",),
}


def exposed_names(text: str) -> set[str]:
    """The series names a scrape of ``text`` can yield, declared (TYPE) or sampled."""
    names = {match[1] for match in SAMPLE.finditer(text)}
    for name, kind in TYPE_LINE.findall(text):
        names.update(name + suffix for suffix in SERIES_OF.get(kind, ("",)))
    return names


def sample_value(text: str, name: str, **labels: str) -> float | None:
    for match in SAMPLE.finditer(text):
        if match[1] == name and all(f'{k}="{v}"' in (match[2] or "") for k, v in labels.items()):
            return float(match[3])
    return None


async def _scrape_all(system: System) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=10) as client:
        scraped = {}
        for name, process in system.fleet.processes.items():
            response = await client.get(f"{process.spec.base_url}/metrics")
            assert response.status_code == 200, f"{name}: {response.status_code}"
            scraped[name] = response.text
        return scraped


async def test_every_metric_read_by_a_dashboard_or_a_rule_is_exposed(
    api: httpx.AsyncClient, sandbox: httpx.AsyncClient, tenant: Tenant, system: System
) -> None:
    good, bad = f"m-ok-{uuid.uuid4().hex[:6]}", f"m-bad-{uuid.uuid4().hex[:6]}"
    channels = [await make_channel(api, tenant, good), await make_channel(api, tenant, bad)]
    await sandbox.post("/faults", json={"account": bad, "responses": [{"status": 422}]})
    asset = await api.post(
        "/v1/assets", headers=tenant.auth, json={"title": "m", "body": "b", "channel_ids": channels}
    )
    approved = await api.post(f"/v1/assets/{asset.json()['id']}/approve", headers=tenant.auth)
    assert approved.status_code == 200, approved.text

    async def finished_and_read() -> bool:
        scraped = await _scrape_all(system)
        published = sum(
            sample_value(text, "herald_approve_to_published_seconds_count", platform="sandbox") or 0
            for text in scraped.values()
        )
        recovery = scraped["recovery"]
        return published >= 1 and sample_value(recovery, "herald_jobs", status="queued") is not None

    await eventually(finished_and_read, timeout=30, interval=0.5)

    scraped = await _scrape_all(system)
    exposed = set().union(*(exposed_names(text) for text in scraped.values()))
    used = used_metric_names(REPO)
    assert used, "the dashboards and rules read some metrics"
    missing = {name: sorted(where) for name, where in used.items() if name not in exposed}
    assert not missing, f"read by dashboards or rules but exposed by no service: {missing}"

    for name, text in scraped.items():  # bounded labels: no ids of tenants, jobs or channels
        ids = sorted({m[0] for m in UUID.finditer(text)})
        assert not ids, f"{name} exposes ids in its labels: {ids[:3]}"

    recovery = scraped["recovery"]
    pending = sample_value(
        recovery,
        "herald_jetstream_consumer_pending_messages",
        consumer="publisher-requested-normal",
    )
    assert pending is not None, "consumer lag is reported"
    assert sample_value(recovery, "herald_service_instances", service="publisher") == 2
