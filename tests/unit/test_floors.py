"""The code's floors (docs/architecture.md): each package imports only packages on floors
below its own or its own package; the daemons never import each other's code except that
the replicator and trigger runner may use nothing of the node but its protocol."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FLOORS = {
    "meridian.pb": 0,
    "meridian.model": 1,
    "meridian.config": 1,
    "meridian.expressions": 2,
    "meridian.wire": 3,
    "meridian.security": 4,
    "meridian.daemon": 5,
    "regionnode": 6,
    "replicator": 6,
    "triggers": 6,
    "meridian.cli": 7,
}


def package_of(module: str) -> str | None:
    """The floor package a dotted module name belongs to, or None (stdlib, third party)."""
    for package in sorted(FLOORS, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package
    return None


def imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violations(package: str, root: pathlib.Path = ROOT) -> list[str]:
    here = root / package.replace(".", "/")
    out = []
    for path in sorted(here.rglob("*.py")):
        for module in sorted(imports(path)):
            other = package_of(module)
            if other is None or other == package:
                continue
            if FLOORS[other] >= FLOORS[package]:
                out.append(f"{path.relative_to(root)} imports {module} (floor {FLOORS[other]})")
    return out


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_a_package_imports_only_lower_floors(package: str) -> None:
    assert violations(package) == []


def test_the_rule_catches_an_upward_import(tmp_path: pathlib.Path) -> None:
    model = tmp_path / "meridian" / "model"
    model.mkdir(parents=True)
    (model / "bad.py").write_text("import os\nfrom meridian.cli import main\nimport meridian.pb\n")
    assert violations("meridian.model", tmp_path) == [
        "meridian/model/bad.py imports meridian.cli (floor 7)",
        "meridian/model/bad.py imports meridian.cli.main (floor 7)",
    ]
