"""The Prometheus scrape config and rules: valid for promtool, unit-tested, and labelled."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO_ROOT / "deploy/prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = PROMETHEUS / "tests/herald.test.yml"
SEVERITIES = {"warning", "critical"}

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not installed (Debian: apt-get install prometheus)",
)


def promtool(*args: str | Path) -> str:
    """Run promtool from the repository root; fail with its output unless it exits 0."""
    done = subprocess.run(
        ["promtool", *map(str, args)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(map(str, args))}:\n{output}"
    return output


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in load(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


@needs_promtool
def test_config_syntax() -> None:
    promtool("check", "config", "--syntax-only", CONFIG)


@needs_promtool
def test_config_loads_every_rule_file(tmp_path: Path) -> None:
    """The config as Prometheus loads it, rule files included, with the rules folder mounted
    at /etc/prometheus/rules swapped for the repository's."""
    config = load(CONFIG)
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    config["rule_files"] = [str(PROMETHEUS / "rules/*.yml")]
    rewritten = tmp_path / "prometheus.yml"
    rewritten.write_text(yaml.safe_dump(config))
    output = promtool("check", "config", rewritten)
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in output


@needs_promtool
@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_rules_are_valid(path: Path) -> None:
    promtool("check", "rules", path)


@needs_promtool
def test_rule_unit_tests_pass() -> None:
    promtool("test", "rules", RULE_TESTS)


def test_rules_folder_holds_rule_files_only() -> None:
    """Prometheus loads every rules/*.yml: a unit-test file there would stop it loading rules."""
    assert RULE_FILES
    for path in RULE_FILES:
        assert set(load(path)) == {"groups"}, path.name


def test_every_herald_service_is_scraped_with_a_service_label() -> None:
    jobs = {job["job_name"]: job for job in load(CONFIG)["scrape_configs"]}
    services = {"api", "publisher", "alerter", "recovery", "sandbox"}
    assert set(jobs) == {f"herald-{service}" for service in services}
    for service in services:
        relabels = jobs[f"herald-{service}"]["relabel_configs"]
        assert {"target_label": "service", "replacement": service} in relabels
    assert jobs["herald-publisher"]["dns_sd_configs"] == [
        {"names": ["publisher"], "type": "A", "port": 8080}
    ]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_rule_has_severity_summary_and_description(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["annotations"]["summary"].strip()
    assert rule["annotations"]["description"].strip()


def test_every_alert_rule_is_unit_tested_firing_and_quiet() -> None:
    """Each (alert, severity) fires in some promtool test case; each alert is quiet in one."""
    firing, quiet = set(), set()
    for case in load(RULE_TESTS)["tests"]:
        for check in case.get("alert_rule_test", []):
            expected = check.get("exp_alerts") or []
            if not expected:
                quiet.add(check["alertname"])
            for alert in expected:
                firing.add((check["alertname"], alert["exp_labels"]["severity"]))
    rules = {(rule["alert"], rule["labels"]["severity"]) for rule in alert_rules()}
    assert rules - firing == set(), "never seen firing"
    assert {name for name, _ in rules} - quiet == set(), "never seen quiet"
