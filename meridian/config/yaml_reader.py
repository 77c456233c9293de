"""Reading a group file's YAML strictly: no duplicate keys, bounded nesting and aliases."""

from __future__ import annotations

import pathlib
from collections.abc import Hashable
from typing import Any, cast

import yaml

from meridian.config.errors import ConfigError
from meridian.config.values import key_path, show_value

# A group file is a few hundred values, nested a few levels (a trigger filter on an item
# attribute nested 32 levels, DynamoDB's limit, takes about 70).
MAX_YAML_DEPTH = 100


# Aliases stay allowed: sharing settings between regions is legitimate, and a bound far above
# such use stops what is not ("billion laughs": a few nested aliases of a small file expand
# to millions of values, and everything that walks the document walks each copy again).
MAX_ALIAS_VALUES = 1000


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping, nesting deeper than
    MAX_YAML_DEPTH, and aliases that together would repeat more than MAX_ALIAS_VALUES values.

    The composer never copies an aliased node; ``expanded`` counts the values the document
    would have with every alias written out, from the size of each anchored node, recorded
    once when it was composed. So a refused document costs no more than reading it.
    """

    file: str = "<config>"

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.path: list[Any] = []  # the index of each node being composed (key node or int)
        self.sizes: dict[int, int] = {}  # id(node) -> its value count, aliases written out
        self.expanded = 0  # values composed so far, aliases written out
        self.aliased = 0  # of which aliases added

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self.path.append(index)
        try:
            if self.check_event(yaml.AliasEvent):
                return self._alias(parent, index)
            if len(self.path) > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise ConfigError(
                    f"{self.file}: line {mark.line + 1}, column {mark.column + 1}: "
                    f"nested deeper than {MAX_YAML_DEPTH} levels (under {self._where(6)}...)"
                )
            before = self.expanded
            self.expanded += 1
            node = cast(yaml.Node, super().compose_node(parent, index))
            self.sizes[id(node)] = self.expanded - before
            return node
        finally:
            self.path.pop()

    def _alias(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        node = cast(yaml.Node, super().compose_node(parent, index))
        line = event.start_mark.line + 1
        where = f"{self.file}: {self._where()}: alias *{event.anchor} (line {line})"
        size = self.sizes.get(id(node))
        if size is None:
            raise ConfigError(f"{where} refers to a value that contains it")
        self.expanded += size
        self.aliased += size
        if self.aliased > MAX_ALIAS_VALUES:
            raise ConfigError(
                f"{where}: aliases would repeat more than {MAX_ALIAS_VALUES} values; "
                "write the values out, or share fewer"
            )
        return node

    def _where(self, limit: int | None = None) -> str:
        """The YAML path of the node being composed (its first `limit` parts)."""
        path = ""
        for part in [p for p in self.path if p is not None][:limit]:
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                key = part.value if isinstance(part, yaml.ScalarNode) else "?"
                path = key_path(path, str(key))
        return path or "the top level"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in seen:
                raise ConfigError(
                    f"{self.file}: line {line}: duplicate key {show_value(key)} "
                    f"(first given at line {seen[key]})"
                )
            if isinstance(key, Hashable):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml_text(text: str, path: pathlib.Path) -> Any:
    loader = _StrictLoader(text)
    loader.file = str(path)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "syntax error"
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
