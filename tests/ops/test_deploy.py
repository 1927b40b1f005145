"""The container and deployment files: Kubernetes manifests valid against the Kubernetes JSON schemas
(kubernetes-validate, strict: unknown fields refused; schemas shipped in the PyPI package, offline), the
compose file's topology, and the Dockerfile's layering and security properties (no Docker daemon here, so
the Dockerfile is checked as text)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37.0"


def manifests() -> list[dict]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in manifests()}


def test_manifests_validate_against_the_kubernetes_schemas() -> None:
    kinds = sorted(doc["kind"] for doc in manifests())
    assert kinds == ["Deployment", "Job", "PodDisruptionBudget", "Service"]
    for doc in manifests():
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_a_broken_manifest() -> None:
    deployment = copy.deepcopy(by_kind()["Deployment"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    deployment = copy.deepcopy(by_kind()["Deployment"])
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_deployment_probes_security_and_selectors() -> None:
    docs = by_kind()
    deployment, service, pdb, job = docs["Deployment"], docs["Service"], docs["PodDisruptionBudget"], docs["Job"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] == dockerfile_user()
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CDS_MIGRATE_ON_START"] == "false"  # the Job migrates
    assert deployment["spec"]["replicas"] >= 2
    labels = pod["metadata"]["labels"]
    for selector in (service["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"],
                     deployment["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()
    assert pdb["spec"]["minAvailable"] == 1
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "migrate"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == container["image"]


def test_compose_two_instances_behind_a_proxy_on_one_postgres() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    instances = [name for name, s in services.items() if "command" not in s and s.get("build")]
    assert sorted(instances) == ["cds-1", "cds-2"]
    urls = {services[name]["environment"]["CDS_DATABASE_URL"] for name in instances}
    assert len(urls) == 1 and "@db:5432/" in urls.pop()
    assert services["migrate"]["command"][-1] == "migrate"
    assert set(services["proxy"]["depends_on"]) == {"cds-1", "cds-2"}
    proxy_ip = services["proxy"]["networks"]["cds"]["ipv4_address"]
    assert all(services[n]["environment"]["CDS_FORWARDED_ALLOW_IPS"] == proxy_ip for n in instances)
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.findall(r"server (cds-\d):8080", nginx) == ["cds-1", "cds-2"]


def dockerfile_user() -> int:
    match = re.search(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match, "USER must be numeric (uid:gid) for Kubernetes runAsNonRoot"
    return int(match.group(1))


def test_dockerfile_layers_user_volume_healthcheck_and_forwarding() -> None:
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines()]
    index = {key: next(i for i, line in enumerate(lines) if line.startswith(key)) for key in (
        "COPY requirements.lock", "RUN pip install --require-hashes", "COPY cds_service", "USER ")}
    assert index["COPY requirements.lock"] < index["RUN pip install --require-hashes"] < index["COPY cds_service"]
    assert dockerfile_user() != 0
    assert 'VOLUME ["/var/lib/cds-naltrexone"]' in text
    assert "sqlite:////var/lib/cds-naltrexone/" in text
    healthcheck = next(line for line in lines if line.startswith("CMD [") and "readyz" in line)
    assert healthcheck.startswith('CMD ["python", "-c"')  # exec form: no shell in between
    assert "/healthz" not in healthcheck
    assert '"*"' not in text and "forwarded-allow-ips" not in text  # trusted proxies come from the setting
    assert 'CDS_FORWARDED_ALLOW_IPS=""' in text and "CDS_LOG_FORMAT=json" in text
    assert "requirements-test.lock" not in text  # the image holds what serving needs, no test tools
