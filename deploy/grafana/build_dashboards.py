"""Herald's Grafana dashboards as code: the panels below are the source, the JSON is generated.

    python deploy/grafana/build_dashboards.py          # (re)write deploy/grafana/dashboards/*.json
    python deploy/grafana/build_dashboards.py --check  # exit 1 if a checked-in file is stale

Plain dicts and the standard library only, so it runs anywhere Python does. Panels flow left to
right in Grafana's 24-column grid and wrap; ids and positions are assigned in order.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Json = dict[str, Any]

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
GRID_WIDTH = 24


# PromQL -----------------------------------------------------------------------------------------


def rate_sum(metric: str, by: str = "", select: str = "") -> str:
    """``sum by (by) (rate(metric{select}[$__rate_interval]))``: per-second rate over replicas."""
    grouping = f" by ({by})" if by else ""
    matchers = f"{{{select}}}" if select else ""
    return f"sum{grouping} (rate({metric}{matchers}[$__rate_interval]))"


def quantile(q: float, histogram: str, by: str = "", select: str = "") -> str:
    """The q-quantile of a histogram's observations, over replicas, per ``by`` labels."""
    labels = ", ".join(["le", by]) if by else "le"
    return f"histogram_quantile({q}, {rate_sum(histogram + '_bucket', labels, select)})"


def failure_share(by: str, select: str = "") -> str:
    """Share of publish attempts whose outcome is anything but succeeded."""
    failed = ", ".join(filter(None, [select, 'outcome!="succeeded"']))
    attempts = "herald_publish_attempts_total"
    return f"{rate_sum(attempts, by, failed)} / {rate_sum(attempts, by, select)}"


# Panels -----------------------------------------------------------------------------------------


def target(expr: str, legend: str = "") -> Json:
    return {"expr": expr, "legendFormat": legend or "__auto"}


def timeseries(title: str, *targets: Json, unit: str = "short", width: int = 12) -> Json:
    return {
        "type": "timeseries",
        "title": title,
        "targets": list(targets),
        "fieldConfig": {"defaults": {"unit": unit, "min": 0}, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "gridPos": {"w": width, "h": 8},
    }


def stat(title: str, *targets: Json, unit: str = "short", red_at: float | None = None) -> Json:
    """A single value; ``red_at`` turns it red from that value up (green below)."""
    steps: list[Json] = [{"color": "green", "value": None}]
    if red_at is not None:
        steps.append({"color": "red", "value": red_at})
    return {
        "type": "stat",
        "title": title,
        "targets": list(targets),
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        },
        "gridPos": {"w": 6, "h": 4},
    }


def dashboard(uid: str, title: str, panels: list[Json], variables: Sequence[Json] = ()) -> Json:
    return {
        "uid": uid,
        "title": title,
        "tags": ["herald"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "links": [
            {"type": "dashboards", "tags": ["herald"], "title": "Herald", "asDropdown": True}
        ],
        "annotations": {"list": []},
        "templating": {"list": list(variables)},
        "panels": _laid_out(panels),
    }


def _laid_out(panels: list[Json]) -> list[Json]:
    """Ids from 1, and grid positions flowing left to right, a new line when one is full."""
    x = y = line_height = 0
    placed: list[Json] = []
    for number, panel in enumerate(panels, start=1):
        width, height = panel["gridPos"]["w"], panel["gridPos"]["h"]
        if x + width > GRID_WIDTH:
            x, y, line_height = 0, y + line_height, 0
        refs = [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(panel["targets"])]
        placed.append(
            {
                "id": number,
                "datasource": DATASOURCE,
                **panel,
                "targets": [dict(t, datasource=DATASOURCE) for t in refs],
                "gridPos": {"h": height, "w": width, "x": x, "y": y},
            }
        )
        x, line_height = x + width, max(line_height, height)
    return placed


def query_variable(name: str, label: str, query: str) -> Json:
    """A multi-value variable filled from Prometheus, "All" by default."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "refresh": 2,  # on time range change
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


# Dashboards -------------------------------------------------------------------------------------

PLATFORM = 'platform=~"$platform"'


def overview() -> Json:
    return dashboard("herald-overview", "Herald / Overview", [
        stat("Targets down", target('count(up{job=~"herald-.*"} == 0) or vector(0)'), red_at=1),
        stat("Outbox lag", target("max(herald_outbox_oldest_unsent_seconds)"), unit="s",
             red_at=30),
        stat("Oldest queued job", target("max(herald_oldest_queued_job_age_seconds)"), unit="s",
             red_at=60),
        stat("Open critical alerts", target('max(herald_alerts_active{severity="critical"})'),
             red_at=1),
        timeseries("Live instances per service (heartbeats)",
                   target("max by (service) (herald_service_instances)", "{{service}}")),
        timeseries("Scrape targets up", target('sum by (service) (up{job=~"herald-.*"})',
                                               "{{service}}")),
        timeseries("Publish attempts by outcome",
                   target(rate_sum("herald_publish_attempts_total", "outcome"), "{{outcome}}"),
                   unit="ops"),
        timeseries("Publish failure share by platform",
                   target(failure_share("platform"), "{{platform}}"), unit="percentunit"),
        timeseries("Jobs by status", target("max by (status) (herald_jobs)", "{{status}}")),
        timeseries("Messages handled by consumer and outcome",
                   target(rate_sum("herald_messages_handled_total", "consumer, outcome"),
                          "{{consumer}} {{outcome}}"), unit="ops"),
        timeseries("API requests by status",
                   target(rate_sum("herald_http_requests_total", "status"), "{{status}}"),
                   unit="reqps"),
        timeseries("API latency p95 by route",
                   target(quantile(0.95, "herald_http_request_duration_seconds", "route"),
                          "{{route}}"), unit="s"),
    ])  # fmt: skip


def publishing() -> Json:
    platform = query_variable(
        "platform", "Platform", "label_values(herald_publish_attempts_total, platform)"
    )
    return dashboard("herald-publishing", "Herald / Publishing", [
        timeseries("Attempts by platform and outcome",
                   target(rate_sum("herald_publish_attempts_total", "platform, outcome", PLATFORM),
                          "{{platform}} {{outcome}}"), unit="ops"),
        timeseries("Failure share by platform",
                   target(failure_share("platform", PLATFORM), "{{platform}}"),
                   unit="percentunit"),
        timeseries("Platform call duration p95",
                   target(quantile(0.95, "herald_platform_call_duration_seconds", "platform",
                                   PLATFORM), "{{platform}}"), unit="s"),
        timeseries("Approval to published",
                   target(quantile(0.5, "herald_approve_to_published_seconds", "platform",
                                   PLATFORM), "p50 {{platform}}"),
                   target(quantile(0.95, "herald_approve_to_published_seconds", "platform",
                                   PLATFORM), "p95 {{platform}}"), unit="s"),
        timeseries("Jobs finished by status",
                   target(rate_sum("herald_jobs_finished_total", "platform, status", PLATFORM),
                          "{{platform}} {{status}}"), unit="ops"),
        timeseries("Rate-limit waits and fenced writes",
                   target(rate_sum("herald_rate_limit_waits_total", "platform", PLATFORM),
                          "waits {{platform}}"),
                   target(rate_sum("herald_fenced_writes_total", "platform", PLATFORM),
                          "fenced {{platform}}"), unit="ops"),
        timeseries("Jobs by status", target("max by (status) (herald_jobs)", "{{status}}")),
        timeseries("Oldest queued job",
                   target("max(herald_oldest_queued_job_age_seconds)", "age"), unit="s"),
        timeseries("Worker slot wait p95 by priority",
                   target(quantile(0.95, "herald_priority_slot_wait_seconds", "priority"),
                          "{{priority}}"), unit="s"),
        timeseries("Claims refused and lease extensions",
                   target(rate_sum("herald_claims_refused_total", "reason"), "refused {{reason}}"),
                   target(rate_sum("herald_lease_extensions_total", "result"),
                          "lease {{result}}"), unit="ops"),
        timeseries("Sandbox platform posts by result",
                   target(rate_sum("herald_sandbox_posts_total", "result"), "{{result}}"),
                   unit="ops"),
    ], [platform])  # fmt: skip


def alerts() -> Json:
    return dashboard("herald-alerts", "Herald / Alerts", [
        stat("Open critical alerts", target('max(herald_alerts_active{severity="critical"})'),
             red_at=1),
        stat("Open warning alerts", target('max(herald_alerts_active{severity="warning"})')),
        stat("Webhook tries failing",
             target(rate_sum("herald_webhook_tries_total", select='outcome!="delivered"')),
             unit="ops"),
        stat("Webhook delivery p95", target(quantile(0.95, "herald_webhook_delivery_seconds")),
             unit="s"),
        timeseries("Open alerts by severity",
                   target("max by (severity) (herald_alerts_active)", "{{severity}}")),
        timeseries("Alert changes by category",
                   target(rate_sum("herald_alert_changes_total", "category, change"),
                          "{{category}} {{change}}"), unit="ops"),
        timeseries("Repeats absorbed and resolutions",
                   target(rate_sum("herald_alert_repeats_absorbed_total", "category"),
                          "repeat {{category}}"),
                   target(rate_sum("herald_alerts_resolved_total", "resolution"),
                          "resolved {{resolution}}"), unit="ops"),
        timeseries("Notification decisions",
                   target(rate_sum("herald_alert_notification_decisions_total", "decision"),
                          "{{decision}}"), unit="ops"),
        timeseries("Notifications finished",
                   target(rate_sum("herald_alert_notifications_total", "event, outcome"),
                          "{{event}} {{outcome}}"), unit="ops"),
        timeseries("Webhook tries by outcome",
                   target(rate_sum("herald_webhook_tries_total", "outcome"), "{{outcome}}"),
                   unit="ops"),
        timeseries("Webhook delivery duration",
                   target(quantile(0.5, "herald_webhook_delivery_seconds"), "p50"),
                   target(quantile(0.95, "herald_webhook_delivery_seconds"), "p95"), unit="s"),
    ])  # fmt: skip


def jetstream() -> Json:
    by_handler = "app_name, handler"
    return dashboard("herald-jetstream", "Herald / JetStream consumers", [
        timeseries("Pending (undelivered) messages",
                   target("max by (stream, consumer) (herald_jetstream_consumer_pending_messages)",
                          "{{stream}} {{consumer}}")),
        timeseries("Delivered, not yet acknowledged",
                   target("max by (stream, consumer) "
                          "(herald_jetstream_consumer_ack_pending_messages)",
                          "{{stream}} {{consumer}}")),
        timeseries("Redelivered messages",
                   target("max by (stream, consumer) "
                          "(herald_jetstream_consumer_redelivered_messages)",
                          "{{stream}} {{consumer}}")),
        timeseries("Messages settled by consumer and outcome",
                   target(rate_sum("herald_messages_handled_total", "consumer, outcome"),
                          "{{consumer}} {{outcome}}"), unit="ops"),
        timeseries("Handler duration p95 by consumer",
                   target(quantile(0.95, "herald_message_handle_seconds", "consumer"),
                          "{{consumer}}"), unit="s"),
        timeseries("Received by handler (FastStream)",
                   target(rate_sum("faststream_received_messages_total", by_handler),
                          "{{app_name}} {{handler}}"), unit="ops"),
        timeseries("Processed by status (FastStream)",
                   target(rate_sum("faststream_received_processed_messages_total",
                                   "app_name, status"), "{{app_name}} {{status}}"), unit="ops"),
        timeseries("Handler exceptions (FastStream)",
                   target(rate_sum("faststream_received_processed_messages_exceptions_total",
                                   "app_name, exception_type"),
                          "{{app_name}} {{exception_type}}"), unit="ops"),
        timeseries("In process (FastStream)",
                   target(f"sum by ({by_handler}) (faststream_received_messages_in_process)",
                          "{{app_name}} {{handler}}")),
        timeseries("Processing duration p95 (FastStream)",
                   target(quantile(0.95, "faststream_received_processed_messages_duration_seconds",
                                   by_handler), "{{app_name}} {{handler}}"), unit="s"),
        timeseries("Received message size p95 (FastStream)",
                   target(quantile(0.95, "faststream_received_messages_size_bytes", by_handler),
                          "{{app_name}} {{handler}}"), unit="bytes"),
        timeseries("Published by status (FastStream)",
                   target(rate_sum("faststream_published_messages_total", "app_name, status"),
                          "{{app_name}} {{status}}"), unit="ops"),
    ])  # fmt: skip


def recovery() -> Json:
    return dashboard("herald-recovery", "Herald / Recovery", [
        stat("Dead letters in range",
             target("sum(increase(herald_dead_letters_total[$__range]))"), red_at=1),
        stat("Outbox lag", target("max(herald_outbox_oldest_unsent_seconds)"), unit="s",
             red_at=30),
        stat("Outbox publish failures",
             target(rate_sum("herald_outbox_publish_failures_total")), unit="ops"),
        stat("Oldest heartbeat",
             target("time() - min(max by (service) (herald_heartbeat_timestamp_seconds))"),
             unit="s"),
        timeseries("Dead letters by stream, kind and event",
                   target(rate_sum("herald_dead_letters_total", "stream, kind, event"),
                          "{{stream}} {{kind}} {{event}}"), unit="ops"),
        timeseries("Recovered by reason",
                   target(rate_sum("herald_recovered_total", "reason"), "{{reason}}"),
                   unit="ops"),
        timeseries("Live instances per service",
                   target("max by (service) (herald_service_instances)", "{{service}}")),
        timeseries("Heartbeat age per service",
                   target("time() - max by (service) (herald_heartbeat_timestamp_seconds)",
                          "{{service}}"), unit="s"),
        timeseries("Outbox published by path",
                   target(rate_sum("herald_outbox_published_total", "path"), "{{path}}"),
                   unit="ops"),
        timeseries("Rows pruned by table",
                   target(rate_sum("herald_pruned_rows_total", "table"), "{{table}}"),
                   unit="ops"),
    ])  # fmt: skip


DASHBOARDS = {
    "overview.json": overview,
    "publishing.json": publishing,
    "alerts.json": alerts,
    "jetstream.json": jetstream,
    "recovery.json": recovery,
}


def render(build: Callable[[], Json]) -> str:
    return json.dumps(build(), indent=2) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check the Herald dashboards.")
    parser.add_argument("--check", action="store_true", help="exit 1 if a JSON file is stale")
    args = parser.parse_args(argv)
    stale: list[str] = []
    for name, build in DASHBOARDS.items():
        path = DASHBOARDS_DIR / name
        text = render(build)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print(
            f"stale: {', '.join(stale)}; run python {Path(__file__).name} to regenerate",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
