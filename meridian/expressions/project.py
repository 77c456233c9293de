"""Projection: an item reduced to some document paths.

The result keeps each projected value inside its parents and nothing else of them:
``a.b`` gives ``{a: {b: ...}}``; list indexes keep the selected elements in index order,
so ``a[3], a[1]`` gives ``{a: [a[1], a[3]]}``. Missing paths are skipped. DynamoDB shapes
ProjectionExpression results, and UPDATED_OLD / UPDATED_NEW return values, this way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from meridian.expressions import nodes as n
from meridian.expressions.evaluate import Attributes, resolve
from meridian.expressions.model import AttributeValue, Item


class _Map(dict[str, "_Node"]):
    pass


class _List(dict[int, "_Node"]):
    pass


_Node = _Map | _List | AttributeValue


def project(attributes: Attributes, paths: Iterable[n.Path]) -> Item:
    """A new item with only the values at `paths` (which must not overlap)."""
    result = Item()
    nested: _Map = _Map()
    for path in paths:
        elements = path.elements
        value = resolve(attributes, elements)
        if value is None:
            continue
        if len(elements) == 1:
            result.attributes[elements[0]].CopyFrom(value)  # type: ignore[index]
            continue
        container: Any = nested
        for element, following in itertools.pairwise(elements):
            child = container.get(element)
            if child is None:
                child = _List() if isinstance(following, int) else _Map()
                container[element] = child
            container = child
        container[elements[-1]] = value
    for name, node in nested.items():
        _fill(result.attributes[name], node)
    return result


def _fill(target: AttributeValue, node: _Node) -> None:
    if isinstance(node, _Map):
        target.m.SetInParent()
        for name, child in node.items():
            _fill(target.m.fields[name], child)
    elif isinstance(node, _List):
        target.l.SetInParent()
        for index in sorted(node):
            _fill(target.l.values.add(), node[index])
    else:
        target.CopyFrom(node)
