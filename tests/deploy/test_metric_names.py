"""metric_names: the metric names in a PromQL expression, and where the deployment uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.deploy.metric_names import metric_names, recorded_names, used_metric_names

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (platform) (rate(herald_publish_attempts_total{outcome!="succeeded"}[10m]))',
            {"herald_publish_attempts_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (le, route) "
            '(rate(herald_http_request_duration_seconds_bucket{route=~"/a|/b"}[$__rate_interval])))',
            {"herald_http_request_duration_seconds_bucket"},
        ),
        (  # recording-rule names with colons; `on (...)`; arithmetic on numbers
            "platform:herald_publish_failure_ratio:rate10m > 0.2\n"
            "and on (platform) platform:herald_publish_attempts:rate10m * 600 >= 20",
            {
                "platform:herald_publish_failure_ratio:rate10m",
                "platform:herald_publish_attempts:rate10m",
            },
        ),
        ("a_total / ignoring (instance) group_left (team, owner) b_info", {"a_total", "b_info"}),
        ("a_total * on (job) group_right c_info", {"a_total", "c_info"}),
        (  # strings may hold braces, brackets and words that look like names
            'label_replace(up, "dst", "$1 not_a_metric {x}", "instance", "(.*):[0-9]+")',
            {"up"},
        ),
        ("rate(foo_total[5m] offset 1h30m) - rate(foo_total[5m] @ 1609746000)", {"foo_total"}),
        ("max_over_time(rate(foo_total[5m])[1h:5m])", {"foo_total"}),
        (
            'absent(herald_service_instances{service="api"}) or herald_jobs == bool 0',
            {"herald_service_instances", "herald_jobs"},
        ),
        (
            "time() - max by (service) (herald_heartbeat_timestamp_seconds)",
            {"herald_heartbeat_timestamp_seconds"},
        ),
        ("count(up == 0) or vector(0)", {"up"}),
        ("sum without (instance, pod) (herald_jobs)", {"herald_jobs"}),
        (
            "SUM BY (status) (herald_jobs) AND herald_alerts_active",
            {"herald_jobs", "herald_alerts_active"},
        ),
        (
            "a_total > 1e3 and b_total < 0x1F or c_total > Inf unless d_total != NaN",
            {"a_total", "b_total", "c_total", "d_total"},
        ),
        (  # Grafana variables in matchers, ranges and as bare values
            'sum(rate(m_total{platform=~"$platform", x="${var:regex}"}[$__rate_interval])) / $scale'
            " + sum(increase(n_total[$__range]))",
            {"m_total", "n_total"},
        ),
        ('topk(5, a_total) + count_values("version", build_info)', {"a_total", "build_info"}),
        ("a_total # a comment that names no_metric\n+ b_total", {"a_total", "b_total"}),
        ("herald_5xx_total - herald_jobs_by_status", {"herald_5xx_total", "herald_jobs_by_status"}),
        ("vector(1) * scalar(time())", set()),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_used_metric_names_says_where_and_leaves_out_what_prometheus_produces(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "deploy/prometheus/rules"
    rules.mkdir(parents=True)
    (rules / "a.yml").write_text(
        "groups:\n"
        "  - name: g\n"
        "    rules:\n"
        "      - record: job:a:rate5m\n"
        "        expr: sum by (job) (rate(a_total[5m]))\n"
        "      - alert: ALot\n"
        "        expr: job:a:rate5m > 1 and on (job) up == 1\n"
    )
    (rules / "a.test.yml").write_text("rule_files: [a.yml]\ntests:\n  - {expr: not_read}\n")
    dashboards = tmp_path / "deploy/grafana/dashboards"
    dashboards.mkdir(parents=True)
    panel = {"title": "Ages", "targets": [{"expr": "max(age_seconds)"}, {"expr": ""}]}
    inner = {"title": "Inner", "targets": [{"expr": "b"}]}
    row = {"title": "Row", "type": "row", "panels": [inner]}
    (dashboards / "d.json").write_text(json.dumps({"title": "D", "panels": [panel, row]}))

    assert recorded_names(tmp_path) == {"job:a:rate5m"}
    assert used_metric_names(tmp_path) == {
        "a_total": {"a.yml: record job:a:rate5m"},
        "age_seconds": {"D: Ages"},
        "b": {"D: Inner"},
    }


def test_the_deployment_reads_service_metrics_only() -> None:
    used = used_metric_names(REPO_ROOT)
    recorded = recorded_names(REPO_ROOT)
    assert "platform:herald_publish_failure_ratio:rate10m" in recorded
    assert not (set(used) & (recorded | {"up"}))
    assert {
        "herald.yml: record platform:herald_publish_attempts:rate10m",
        "Herald / Publishing: Attempts by platform and outcome",
    } <= used["herald_publish_attempts_total"]
    assert all(name.startswith(("herald_", "faststream_")) for name in used), sorted(used)
