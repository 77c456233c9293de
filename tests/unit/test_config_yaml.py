"""The group file's YAML reader: aliases that would expand without bound, and deep nesting,
are refused with a ConfigError (exit 3) before anything walks the document."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from meridian.config import ConfigError, parse, yaml_reader
from meridian.config.yaml_reader import MAX_ALIAS_VALUES, MAX_YAML_DEPTH

FILE = pathlib.Path("group.yaml")
GROUP = """\
group: demo
tables:
  - name: orders
    partition_key: {name: pk, type: S}
regions:
  - name: us-east
    node: {listen: 127.0.0.1:7101, data_dir: var/us-east}
    replicator: {listen: 127.0.0.1:7201}
    metrics: {listen: 127.0.0.1:9101}
"""


def with_filter(pattern_lines: list[str]) -> str:
    """GROUP with one trigger whose first filter pattern is the given YAML (one per line)."""
    body = "".join(f"          {line}\n" for line in pattern_lines)
    return (
        GROUP
        + "triggers:\n  - name: t\n    table: orders\n    function: {python: 'm:f'}\n"
        + "    starting_position: LATEST\n    filters:\n      - dynamodb:\n"
        + body
    )


def laughs(levels: int, width: int = 9) -> list[str]:
    """A "billion laughs" filter: each level an $or of `width` aliases of the one before."""
    lines = ["l0: &l0 {x: [1]}"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} {{$or: [{', '.join([f'*l{i - 1}'] * width)}]}}")
    return lines


class Counting:
    """Counts the nodes the loader composes and whether it builds Python values at all."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.composed = 0
        self.constructed = False
        compose = yaml_reader._StrictLoader.compose_node
        construct = yaml_reader._StrictLoader.construct_document

        def counted_compose(loader: Any, parent: Any, index: Any) -> Any:
            self.composed += 1
            return compose(loader, parent, index)

        def counted_construct(loader: Any, node: Any) -> Any:
            self.constructed = True
            return construct(loader, node)

        monkeypatch.setattr(yaml_reader._StrictLoader, "compose_node", counted_compose)
        monkeypatch.setattr(yaml_reader._StrictLoader, "construct_document", counted_construct)


@pytest.mark.parametrize("levels", [4, 6, 40])
def test_an_alias_bomb_is_refused_without_being_expanded(
    levels: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Counting(monkeypatch)
    text = with_filter(laughs(levels))
    with pytest.raises(ConfigError) as err:
        parse(text, FILE)
    assert str(err.value) == (
        "group.yaml: triggers[0].filters[0].dynamodb.l3.$or[1]: alias *l2 (line 20): "
        f"aliases would repeat more than {MAX_ALIAS_VALUES} values; "
        "write the values out, or share fewer"
    )
    # The document would hold 9**levels copies; the loader composed each written node once,
    # stopped at the alias that passed the bound, and built no Python value at all.
    assert counting.composed < 200
    assert not counting.constructed


def test_the_bound_counts_every_value_aliases_add() -> None:
    shared = "shared: &s [" + ", ".join(str(n) for n in range(99)) + "]\n"  # 100 values
    uses = MAX_ALIAS_VALUES // 100
    fits = shared + "uses: [" + ", ".join(["*s"] * uses) + "]\n"
    assert len(yaml_reader.load_yaml_text(fits, FILE)["uses"]) == uses
    with pytest.raises(ConfigError, match=r"uses\[10\]: alias \*s \(line 2\): aliases would"):
        yaml_reader.load_yaml_text(fits.replace("]\n", ", *s]\n").replace("98, *s]", "98]"), FILE)


def test_aliases_that_share_settings_are_still_allowed() -> None:
    text = GROUP.replace(
        "    node: {listen: 127.0.0.1:7101, data_dir: var/us-east}\n",
        "    node: &node {listen: 127.0.0.1:7101, data_dir: var/us-east}\n",
    ) + (
        "  - name: eu-west\n"
        "    node: {<<: *node, listen: 127.0.0.1:7102, data_dir: var/eu-west}\n"
        "    replicator: {listen: 127.0.0.1:7202}\n"
        "    metrics: {listen: 127.0.0.1:9102}\n"
    )
    assert [str(r.node_listen) for r in parse(text, FILE).regions] == [
        "127.0.0.1:7101",
        "127.0.0.1:7102",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: &a [1, *a]\n",
            "group.yaml: a[1]: alias *a (line 1) refers to a value that contains it",
        ),
        (
            "a: &a {b: {c: *a}}\n",
            "group.yaml: a.b.c: alias *a (line 1) refers to a value that contains it",
        ),
    ],
)
def test_an_alias_inside_its_own_value_is_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text, FILE)
    assert str(err.value) == message


@pytest.mark.parametrize("depth", [MAX_YAML_DEPTH + 1, 10_000])
def test_deep_nesting_is_refused_with_its_position(depth: int) -> None:
    text = "group: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(ConfigError) as err:
        parse(text, FILE)
    column = len("group: ") + MAX_YAML_DEPTH  # the list that is one level too deep
    assert str(err.value) == (
        f"group.yaml: line 1, column {column}: nested deeper than {MAX_YAML_DEPTH} levels "
        "(under group[0][0][0][0][0]...)"
    )


def test_deep_block_nesting_is_refused_too() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(MAX_YAML_DEPTH + 5))
    with pytest.raises(ConfigError, match=f"nested deeper than {MAX_YAML_DEPTH} levels"):
        parse(text, FILE)


def test_nesting_up_to_the_bound_is_read() -> None:
    depth = MAX_YAML_DEPTH - 1  # the document's mapping is the first level
    value = yaml_reader.load_yaml_text("group: " + "[" * depth + "]" * depth + "\n", FILE)["group"]
    for _ in range(depth - 1):
        (value,) = value
    assert value == []


def test_a_filter_on_an_attribute_nested_as_deep_as_dynamodb_allows_loads() -> None:
    pattern: Any = {"S": ["x"]}
    for level in range(32):
        pattern = {"M": {f"a{level}": pattern}}
    pattern = {"NewImage": {"top": pattern}}
    lines = yaml.safe_dump(pattern, default_flow_style=False).splitlines()
    trigger = parse(with_filter(lines), FILE).triggers[0]
    assert len(trigger.filters) == 1
