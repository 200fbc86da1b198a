"""The Grafana dashboards and provisioning: generated, well-formed, and wired to Prometheus."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

REPO_ROOT = Path(__file__).resolve().parents[2]
GRAFANA = REPO_ROOT / "deploy/grafana"
DASHBOARDS = GRAFANA / "dashboards"
NAMES = ["overview", "publishing", "alerts", "jetstream", "recovery"]
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
# Grafana's variables, as Prometheus would see them once Grafana has filled them in.
VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$platform": ".*"}


def load(name: str) -> Any:
    return json.loads((DASHBOARDS / f"{name}.json").read_text())


def targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [target for panel in dashboard["panels"] for target in panel["targets"]]


def test_checked_in_dashboards_are_what_the_script_generates() -> None:
    done = subprocess.run(
        [sys.executable, str(GRAFANA / "build_dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_five_dashboards_exist() -> None:
    assert sorted(path.stem for path in DASHBOARDS.glob("*.json")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_is_well_formed(name: str) -> None:
    dashboard = load(name)
    assert dashboard["uid"] == f"herald-{name}"
    assert dashboard["schemaVersion"] == 39
    assert dashboard["refresh"] == "30s"
    assert dashboard["time"] == {"from": "now-1h", "to": "now"}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in dashboard["panels"]:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target.get("datasource", DATASOURCE) == DATASOURCE, panel["title"]


@pytest.mark.parametrize("name", NAMES)
def test_panels_fit_the_grid_without_overlapping(name: str) -> None:
    taken: set[tuple[int, int]] = set()
    for panel in load(name)["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


@pytest.mark.parametrize("name", NAMES)
def test_ranges_follow_the_dashboard(name: str) -> None:
    """Rates use Grafana's $__rate_interval (or $__range), not a fixed window."""
    for target in targets(load(name)):
        for window in re.findall(r"\[([^\]]*)\]", target["expr"]):
            assert window in {"$__rate_interval", "$__range"}, target["expr"]


def test_publishing_is_templated_by_platform() -> None:
    dashboard = load("publishing")
    (variable,) = dashboard["templating"]["list"]
    assert variable["name"] == "platform"
    assert variable["query"]["query"] == "label_values(herald_publish_attempts_total, platform)"
    assert any('platform=~"$platform"' in target["expr"] for target in targets(dashboard))


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not installed (Debian: apt-get install prometheus)",
)
def test_every_expression_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each panel expression, given as a recording rule."""
    rules = []
    for name in NAMES:
        for number, target in enumerate(targets(load(name))):
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            rules.append({"record": f"dashboard:{name}:{number}", "expr": expr})
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_datasource_is_the_compose_prometheus() -> None:
    provisioning = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (datasource,) = provisioning["datasources"]
    assert datasource["uid"] == DATASOURCE["uid"]
    assert datasource["type"] == DATASOURCE["type"]
    assert datasource["url"] == "http://prometheus:9090"


def test_dashboard_provider_reads_the_dashboards_folder() -> None:
    provisioning = yaml.safe_load((GRAFANA / "provisioning/dashboards/herald.yml").read_text())
    (provider,) = provisioning["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "Herald"
    # deploy/grafana/dashboards is mounted there
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
