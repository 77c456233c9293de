"""Fixtures that start real `meridian node` processes; none outlives its test (or module)."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.helpers import NodeProcess, e2e_group
from tests.harness import write_group

NodeFactory = Callable[..., NodeProcess]


class Nodes:
    """Starts nodes from group files under one directory and cleans them all up."""

    def __init__(self, base: pathlib.Path) -> None:
        self.base = base
        self.started: list[NodeProcess] = []

    def config(self, name: str = "group.yaml", **options: Any) -> pathlib.Path:
        return write_group(self.base / name, e2e_group(self.base, **options))

    def node(
        self, config: pathlib.Path | None = None, region: str = "us-east", *, ready: bool = True
    ) -> NodeProcess:
        """Start a node (from a new one-region group file unless given one)."""
        config = config if config is not None else self.config()
        node = NodeProcess(config, region, self.base / f"node-{region}.log")
        self.started.append(node)
        node.start()
        if ready:
            node.wait_healthy()
        return node

    def restart(self, node: NodeProcess) -> NodeProcess:
        """A new process for the same region, group file and data directory."""
        return self.node(node.config, node.region)

    def cleanup(self) -> None:
        for node in self.started:
            node.cleanup()


@pytest.fixture
def nodes(tmp_path: pathlib.Path) -> Iterator[Nodes]:
    started = Nodes(tmp_path)
    try:
        yield started
    finally:
        started.cleanup()


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One node for a module's tests that each work on their own partition keys."""
    started = Nodes(tmp_path_factory.mktemp("shared"))
    try:
        node = started.node()
        yield node
        code = node.stop()
        if code != 0:
            raise node.failure(f"node exited with {code} after SIGTERM")
    finally:
        started.cleanup()
