"""A group file that would blow up the YAML reader stops every command with exit 3 and a
one-line message, never a traceback, whether it is read by check-config, a node or a
replicator."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest
import yaml

from tests.e2e.helpers import e2e_group, run_cli

pytestmark = pytest.mark.e2e

COMMANDS = [
    ("check-config", "{file}"),
    ("node", "--config", "{file}", "--region", "us-east"),
    ("replicator", "--config", "{file}", "--region", "us-east"),
]


def alias_bomb(tmp_path: pathlib.Path) -> tuple[pathlib.Path, str]:
    text = yaml.safe_dump(e2e_group(tmp_path), sort_keys=False)
    laughs = ["l0: &l0 {x: [1]}"] + [
        f"l{i}: &l{i} {{$or: [{', '.join([f'*l{i - 1}'] * 9)}]}}" for i in range(1, 9)
    ]
    text += (
        "triggers:\n- name: t\n  table: orders\n  function: {python: 'm:f'}\n"
        "  starting_position: LATEST\n  filters:\n  - dynamodb:\n"
        + "".join(f"      {line}\n" for line in laughs)
    )
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    return path, "triggers[0].filters[0].dynamodb.l3.$or[1]: alias *l2"


def deep(tmp_path: pathlib.Path) -> tuple[pathlib.Path, str]:
    path = tmp_path / "deep.yaml"
    path.write_text("group: " + "[" * 10_000 + "]" * 10_000 + "\n")
    return path, "nested deeper than 100 levels"


@pytest.mark.parametrize("make", [alias_bomb, deep], ids=["alias-bomb", "deep"])
@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_hostile_group_file_exits_3_with_a_clear_message(
    tmp_path: pathlib.Path,
    make: Callable[[pathlib.Path], tuple[pathlib.Path, str]],
    command: tuple[str, ...],
) -> None:
    path, expected = make(tmp_path)
    result = run_cli(*(arg.format(file=path) for arg in command), timeout=20)
    assert result.returncode == 3, result.stderr
    assert expected in result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
