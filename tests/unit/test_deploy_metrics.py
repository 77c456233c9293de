"""The Prometheus rules and the Grafana dashboard in deploy/ refer only to metrics the
daemons export (names read from their real registries), and promtool accepts the rules."""

from __future__ import annotations

import json
import pathlib
import platform
import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client import CollectorRegistry

from meridian.daemon.process_metrics import version
from regionnode.metrics import NodeMetrics
from regionnode.store import Store
from replicator.metrics import ReplicatorMetrics
from triggers.metrics import TriggerMetrics

REPO = pathlib.Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARD = REPO / "deploy" / "grafana" / "meridian.json"
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}
OURS = re.compile(r"\b(?:meridian|process)_[A-Za-z0-9_]*")


def exported(registry: CollectorRegistry) -> dict[str, str]:
    """Every sample name the registry can export -> its family's name."""
    names = {}
    for family in registry.collect():
        for suffix in SUFFIXES.get(family.type, ("",)):
            names[family.name + suffix] = family.name
        for sample in family.samples:
            names[sample.name] = family.name
    return names


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CollectorRegistry]:
    node = NodeMetrics(CollectorRegistry())
    store = Store(tmp_path_factory.mktemp("store"), sync=False)
    node.watch_store(store)
    yield {
        "node": node.registry,
        "replicator": ReplicatorMetrics(CollectorRegistry()).registry,
        "triggers": TriggerMetrics(CollectorRegistry()).registry,
    }
    store.close()


@pytest.fixture(scope="module")
def known(registries: dict[str, CollectorRegistry]) -> dict[str, str]:
    return {name: f for r in registries.values() for name, f in exported(r).items()}


def rule_expressions() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    def walk(panels: list[dict]) -> list[str]:
        found = []
        for panel in panels:
            found += [t["expr"] for t in panel.get("targets", [])]
            found += walk(panel.get("panels", []))
        return found

    return walk(json.loads(DASHBOARD.read_text())["panels"])


def unknown_names(expressions: list[str], known: dict[str, str]) -> set[str]:
    return {name for e in expressions for name in OURS.findall(e)} - set(known)


def test_every_registry_has_process_and_build_metrics(
    registries: dict[str, CollectorRegistry],
) -> None:
    for component, registry in registries.items():
        assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= set(
            exported(registry)
        )
        (build,) = [f for f in registry.collect() if f.name == "meridian_build"]
        (sample,) = build.samples
        assert sample.name == "meridian_build_info" and sample.value == 1.0
        assert sample.labels == {
            "component": component,
            "version": version(),
            "python": platform.python_version(),
        }


def test_the_link_and_region_states_are_enums(registries: dict[str, CollectorRegistry]) -> None:
    types = {f.name: f.type for f in registries["replicator"].collect()}
    assert types["meridian_replication_link_state"] == "stateset"
    assert types["meridian_replication_region_state"] == "stateset"


def test_the_alert_rules_use_only_exported_metrics(known: dict[str, str]) -> None:
    expressions = rule_expressions()
    assert len(expressions) >= 10
    assert unknown_names(expressions, known) == set()


def test_the_dashboard_uses_only_exported_metrics(known: dict[str, str]) -> None:
    expressions = dashboard_expressions()
    assert len(expressions) >= 15
    assert unknown_names(expressions, known) == set()


def test_the_check_sees_a_misspelt_metric(known: dict[str, str]) -> None:
    assert unknown_names(["rate(meridian_replication_aplied_total[5m])"], known) == {
        "meridian_replication_aplied_total"
    }


def test_the_readme_lists_every_metric_family(known: dict[str, str]) -> None:
    readme = (REPO / "README.md").read_text()
    families = {f for f in known.values() if f.startswith("meridian_")}
    assert {f for f in families if f not in readme} == set()


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (.ci/run does)")
    result = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
