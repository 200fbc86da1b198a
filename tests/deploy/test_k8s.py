"""deploy/k8s: valid Kubernetes 1.32 objects that wire probes, budgets, Services and KEDA right.

Rendered with ``kubectl kustomize`` where kubectl is installed; otherwise the files listed under
``resources:`` are checked as written and the rendering-specific checks are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

from herald.alerter.settings import AlerterSettings
from herald.api.settings import ApiSettings
from herald.common.streams import PUBLISH, PUBLISHER_REQUESTS
from herald.publisher.settings import PublisherSettings
from herald.recovery.settings import RecoverySettings

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S = REPO_ROOT / "deploy/k8s"
KUBERNETES_VERSION = "1.32"
NAMESPACE = "herald"
PART_OF = {"app.kubernetes.io/part-of": "herald"}
SERVICES = ("api", "publisher", "alerter", "recovery")
SETTINGS = (ApiSettings, PublisherSettings, AlerterSettings, RecoverySettings)
KEDA_METADATA = {"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold"}
CLUSTER_SCOPED = {"Namespace"}

Manifest = dict[str, Any]


def load_all(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def resource_files() -> list[Path]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [K8S / name for name in kustomization["resources"]]


def written() -> list[Manifest]:
    """The resources as the files hold them: no namespace, labels or generated ConfigMap."""
    return [doc for path in resource_files() for doc in load_all(path.read_text())]


def render() -> list[Manifest] | None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"kubectl kustomize {K8S}:\n{done.stderr}"
    return load_all(done.stdout)


@pytest.fixture(scope="module")
def rendered_or_none() -> list[Manifest] | None:
    return render()


@pytest.fixture(scope="module")
def rendered(rendered_or_none: list[Manifest] | None) -> list[Manifest]:
    if rendered_or_none is None:
        pytest.skip("kubectl is not on PATH: the kustomize rendering is not checked")
    return rendered_or_none


@pytest.fixture(scope="module")
def manifests(rendered_or_none: list[Manifest] | None) -> list[Manifest]:
    return rendered_or_none if rendered_or_none is not None else written()


def of_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {doc["metadata"]["name"]: doc for doc in manifests if doc["kind"] == kind}


def pod_labels(deployment: Manifest) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def validation_errors(doc: Manifest) -> list[str]:
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        # Custom resources have no schema here; the ScaledObject is checked by hand below.
        return [] if doc["apiVersion"] == "keda.sh/v1alpha1" else [f"{name}: no schema"]
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return [f"{name}: {path}: {error.message}"]
    return []


@pytest.mark.parametrize("path", resource_files(), ids=lambda path: path.name)
def test_each_file_holds_valid_objects(path: Path) -> None:
    docs = load_all(path.read_text())
    assert docs, f"{path.name} is empty"
    errors = [error for doc in docs for error in validation_errors(doc)]
    assert not errors, "\n".join(errors)


def test_the_rendering_is_valid(rendered: list[Manifest]) -> None:
    errors = [error for doc in rendered for error in validation_errors(doc)]
    assert not errors, "\n".join(errors)


def test_everything_lands_in_the_herald_namespace_labelled_part_of_herald(
    rendered: list[Manifest],
) -> None:
    assert NAMESPACE in of_kind(rendered, "Namespace")
    for doc in rendered:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"].get("namespace") == NAMESPACE, name
        assert selects(PART_OF, doc["metadata"]["labels"]), name
        template = doc.get("spec", {}).get("template")
        if template is not None:
            assert selects(PART_OF, template["metadata"]["labels"]), f"{name} pods"
    for deployment in of_kind(rendered, "Deployment").values():
        # A selector cannot change after creation: the common label must stay out of it.
        assert "app.kubernetes.io/part-of" not in deployment["spec"]["selector"]["matchLabels"]


def test_pods_read_the_generated_config_and_the_secret(rendered: list[Manifest]) -> None:
    config_maps = of_kind(rendered, "ConfigMap")
    secrets = of_kind(rendered, "Secret")
    (config_name,) = [name for name in config_maps if name.startswith("herald-config-")]
    config = config_maps[config_name]["data"]
    assert config["HERALD_STREAM_REPLICAS"] == "3"
    assert config["HERALD_NATS_URL"].startswith("nats://")
    for kind in ("Deployment", "Job"):
        for name, doc in of_kind(rendered, kind).items():
            for container in doc["spec"]["template"]["spec"]["containers"]:
                sources = container["envFrom"]
                assert {"configMapRef": {"name": config_name}} in sources, name
                assert any(s.get("secretRef", {}).get("name") in secrets for s in sources), name


def test_settings_are_variables_the_services_read(manifests: list[Manifest]) -> None:
    known = {f"HERALD_{field.upper()}" for settings in SETTINGS for field in settings.model_fields}
    lines = (K8S / "config.env").read_text().splitlines()
    names = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    for secret in of_kind(manifests, "Secret").values():
        names |= set(secret.get("stringData", {})) | set(secret.get("data", {}))
    for deployment in of_kind(manifests, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            names |= {env["name"] for env in container.get("env", [])}
    assert names - known == set(), "no service reads these"


def test_the_migration_job_runs_herald_migrate(manifests: list[Manifest]) -> None:
    job = of_kind(manifests, "Job")["herald-migrate"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in {"Never", "OnFailure"}
    (container,) = pod["containers"]
    assert container["command"] == ["herald", "migrate"]
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_each_service_runs_as_a_deployment_of_the_herald_image(
    manifests: list[Manifest],
) -> None:
    deployments = of_kind(manifests, "Deployment")
    assert set(deployments) == {f"herald-{service}" for service in SERVICES}
    assert deployments["herald-publisher"]["spec"]["replicas"] == 2
    for service in SERVICES:
        pod = deployments[f"herald-{service}"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"].rpartition(":")[0].endswith("herald"), service
        assert container["command"] == ["python", "-m", f"herald.{service}"]


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_is_probed_bounded_and_unprivileged(
    manifests: list[Manifest], service: str
) -> None:
    deployment = of_kind(manifests, "Deployment")[f"herald-{service}"]
    template = deployment["spec"]["template"]
    pod = template["spec"]
    assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels(deployment))
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["terminationGracePeriodSeconds"] >= 40, "longer than the 30 s ack wait"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    (container,) = pod["containers"]
    assert {"name": "http", "containerPort": 8080} in [
        {key: port[key] for key in ("name", "containerPort")} for port in container["ports"]
    ]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["port"] == "http"
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    env = {item["name"]: item for item in container["env"]}
    assert env["HERALD_HTTP_HOST"]["value"] == "0.0.0.0"
    assert env["HERALD_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_has_a_disruption_budget_of_its_own(
    manifests: list[Manifest], service: str
) -> None:
    deployments = of_kind(manifests, "Deployment")
    labels = pod_labels(deployments[f"herald-{service}"])
    budgets = [
        pdb
        for pdb in of_kind(manifests, "PodDisruptionBudget").values()
        if selects(pdb["spec"]["selector"]["matchLabels"], labels)
    ]
    assert len(budgets) == 1, f"herald-{service} has {len(budgets)} budgets"
    (budget,) = budgets
    for other in deployments.values():
        if other is not deployments[f"herald-{service}"]:
            assert not selects(budget["spec"]["selector"]["matchLabels"], pod_labels(other))
    if service == "publisher":
        assert budget["spec"]["minAvailable"] == 1
    else:
        assert budget["spec"]["maxUnavailable"] == 1


def test_each_service_object_selects_one_deployment_on_its_http_port(
    manifests: list[Manifest],
) -> None:
    deployments = of_kind(manifests, "Deployment")
    services = of_kind(manifests, "Service")
    assert services["herald-api"]["spec"].get("clusterIP") != "None", "the API is served"
    for name, service in services.items():
        targets = [
            deployment
            for deployment in deployments.values()
            if selects(service["spec"]["selector"], pod_labels(deployment))
        ]
        assert len(targets) == 1, f"Service {name} selects {len(targets)} Deployments"
        (container,) = targets[0]["spec"]["template"]["spec"]["containers"]
        port_names = {port["name"] for port in container["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, name


def test_keda_scales_the_publisher_on_each_priority_consumers_lag(
    manifests: list[Manifest],
) -> None:
    (scaled,) = [doc for doc in manifests if doc["kind"] == "ScaledObject"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert target.get("kind", "Deployment") == "Deployment"
    deployment = of_kind(manifests, "Deployment")[target["name"]]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["command"][-1] == (
        "herald.publisher"
    )
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 10)
    assert spec["minReplicaCount"] <= deployment["spec"]["replicas"] <= spec["maxReplicaCount"]
    consumers = set()
    for trigger in spec["triggers"]:
        assert trigger["type"] == "nats-jetstream"
        metadata = trigger["metadata"]
        missing = KEDA_METADATA - set(metadata)
        assert not missing, f"missing metadata: {sorted(missing)}"
        assert all(isinstance(value, str) for value in metadata.values()), "strings only"
        assert "://" not in metadata["natsServerMonitoringEndpoint"], "host:port, no scheme"
        assert metadata["account"] == "$G"
        assert metadata["stream"] == PUBLISH.name
        assert int(metadata["lagThreshold"]) > 0
        consumers.add(metadata["consumer"])
    assert consumers == {consumer.durable for consumer in PUBLISHER_REQUESTS.values()}
