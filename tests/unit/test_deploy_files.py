"""The container and Kubernetes files in deploy/: valid against their schemas (shipped by
PyPI packages, no network), and consistent with the group files they run."""

from __future__ import annotations

import copy
import importlib.resources
import json
import pathlib
import re
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from meridian.config import GroupConfig, parse
from meridian.daemon.grpc_server import READINESS

DEPLOY = pathlib.Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES_VERSION = "1.37.0"  # the newest schemas kubernetes-validate ships
REGIONS = ("us-east", "eu-west", "ap-south")


def yaml_docs(path: pathlib.Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def loaded(where: str) -> GroupConfig:
    """The group file as meridian loads it."""
    path = DEPLOY / where / "group.yaml"
    return parse(path.read_text(), path)


# ------------------------------------------------------------------ group files


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_the_group_file_loads(where: str) -> None:
    config = loaded(where)
    assert [r.name for r in config.regions] == list(REGIONS)
    assert config.tls is not None and not config.insecure
    for region in config.regions:
        assert region.tls is not None
        assert region.node_listen.host == "0.0.0.0"
        assert region.node_address.host != "0.0.0.0"  # dialled at the advertised name
        assert region.replicator_address.host != "0.0.0.0"
        assert region.node_peer_listen.host == "127.0.0.1"
        assert region.node_health is not None and region.replicator_health is not None


def test_the_group_files_name_the_certificates_meridian_certs_writes() -> None:
    for where in ("compose", "kubernetes"):
        doc = yaml.safe_load((DEPLOY / where / "group.yaml").read_text())
        assert doc["tls"]["ca"] == "/etc/meridian/certs/ca.pem"
        for region in doc["regions"]:
            name = region["name"]
            assert region["tls"] == {
                "cert": f"/etc/meridian/certs/{name}.pem",
                "key": f"/etc/meridian/certs/{name}-key.pem",
            }


# ------------------------------------------------------------------ compose


def compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())  # type: ignore[no-any-return]


def compose_errors(doc: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_the_compose_file_follows_the_compose_spec() -> None:
    doc = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    assert compose_errors(doc) == []
    broken = copy.deepcopy(doc)
    broken["services"]["node-us-east"]["helthcheck"] = broken["services"]["node-us-east"].pop(
        "healthcheck"
    )
    assert compose_errors(broken), "the schema must refuse an unknown service key"


def test_compose_runs_each_region_as_a_node_and_replicator_pair() -> None:
    services = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())["services"]
    config = loaded("compose")
    for region in config.regions:
        node, replicator = services[f"node-{region.name}"], services[f"replicator-{region.name}"]
        assert replicator["network_mode"] == f"service:node-{region.name}"
        assert node["volumes"] == replicator["volumes"]
        assert node["volumes"][0] == f"data-{region.name}:/var/lib/meridian"
        assert region.data_dir.is_relative_to("/var/lib/meridian")
        assert region.node_address.host == f"node-{region.name}"
        assert region.replicator_address.host == f"node-{region.name}"
        for service, component in ((node, "node"), (replicator, "replicator")):
            assert service["command"][:2] == [component, "--config"]
            assert service["command"][-1] == region.name
            health = region.node_health if component == "node" else region.replicator_health
            assert service["environment"]["MERIDIAN_HEALTH_ADDRESS"] == str(health)
            assert service["healthcheck"]["test"][-2:] == ["--service", READINESS]
        published = {p.split(":")[0] for p in node["ports"]}
        expected = (
            region.node_listen,
            region.replicator_listen,
            region.metrics_listen,
            region.replicator_metrics_listen,
            region.api_listen,
        )
        assert published == {str(a.port) for a in expected if a is not None}


def test_the_image_runs_as_a_user_and_checks_readiness() -> None:
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
    assert re.search(r"^USER meridian:meridian$", text, re.M)
    assert f'"meridian", "health", "--service", "{READINESS}"' in text
    assert "pip install" in text
    # the build stage has what builds the compiled item check, and its setup.py
    assert re.search(r"apt-get install .*\bgcc\b", text) and "setup.py" in text
    ignore = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text().split()
    assert "!setup.py" in ignore and "**/*.so" in ignore  # built here, not copied in


# ------------------------------------------------------------------ kubernetes


def manifests() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        if path.name != "group.yaml"
        for doc in yaml_docs(path)
    ]


def test_kubernetes_manifests_follow_the_schemas() -> None:
    found = manifests()
    assert len(found) == 1 + 5 * len(REGIONS)
    for name, doc in found:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name} {doc['kind']} {doc['metadata']['name']}: {exc.message}")
    _, statefulset = found[1]
    broken = copy.deepcopy(statefulset)
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["grpcc"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def by_kind(region: str) -> dict[str, dict[str, Any]]:
    docs = yaml_docs(DEPLOY / "kubernetes" / f"region-{region}.yaml")
    return {doc["kind"] + "/" + doc["metadata"]["name"]: doc for doc in docs}


@pytest.mark.parametrize("region_name", REGIONS)
def test_a_region_pod_matches_the_group_file(region_name: str) -> None:
    region = loaded("kubernetes").region(region_name)
    docs = by_kind(region_name)
    pod = docs[f"StatefulSet/meridian-{region_name}"]["spec"]["template"]["spec"]
    node, replicator = pod["containers"]
    for container, component, health, doors in (
        (
            node,
            "node",
            region.node_health,
            (region.node_listen, region.metrics_listen, region.api_listen),
        ),
        (
            replicator,
            "replicator",
            region.replicator_health,
            (region.replicator_listen, region.replicator_metrics_listen),
        ),
    ):
        assert container["args"][0] == component and container["args"][-1] == region_name
        assert health is not None and health.host == "0.0.0.0"
        assert container["livenessProbe"]["grpc"] == {"port": health.port}
        assert container["readinessProbe"]["grpc"] == {"port": health.port, "service": READINESS}
        ports = {p["containerPort"] for p in container["ports"]}
        assert ports == {health.port, *(a.port for a in doors if a is not None)}
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {
            "/var/lib/meridian",
            "/etc/meridian/certs",
        }
    client = docs[f"Service/meridian-{region_name}-client"]
    assert region.node_address.host == f"meridian-{region_name}-client.meridian.svc"
    assert client["spec"]["ports"][0]["port"] == region.node_address.port
    assert region.api_listen is not None
    assert client["spec"]["ports"][1]["port"] == region.api_listen.port
    peer = docs[f"Service/meridian-{region_name}-peer"]
    assert region.replicator_address.host == f"meridian-{region_name}-peer.meridian.svc"
    assert peer["spec"]["ports"][0]["port"] == region.replicator_address.port
    metrics = docs[f"Service/meridian-{region_name}-metrics"]
    assert {p["port"] for p in metrics["spec"]["ports"]} == {
        region.metrics_listen.port,
        region.replicator_metrics_listen.port,
    }
