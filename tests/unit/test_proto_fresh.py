"""The committed generated code must be what `make proto` produces from proto/."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GENERATED = [
    "meridian/pb/node_pb2.py",
    "meridian/pb/node_pb2.pyi",
    "meridian/pb/node_pb2_grpc.py",
    "meridian/pb/replicator_pb2.py",
    "meridian/pb/replicator_pb2.pyi",
    "meridian/pb/replicator_pb2_grpc.py",
]


@pytest.mark.parametrize("path", GENERATED)
def test_generated_code_is_fresh(path: str, tmp_path: pathlib.Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts/gen_proto.py"), str(tmp_path)], check=True)
    fresh = (tmp_path / path).read_text()
    committed = (ROOT / path).read_text()
    assert fresh == committed, f"{path} is stale: run `make proto`"
