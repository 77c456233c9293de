"""The committed generated code must be what `make proto` produces from proto/."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
PB = "meridian/pb"


def test_generated_code_is_fresh(tmp_path: pathlib.Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts/gen_proto.py"), str(tmp_path)], check=True)
    fresh = {p.name: p.read_text() for p in (tmp_path / PB).iterdir()}
    committed = {
        p.name: p.read_text() for p in (ROOT / PB).iterdir() if p.suffix in (".py", ".pyi")
    }
    committed.pop("__init__.py")
    assert sorted(committed) == sorted(fresh), "generated files differ: run `make proto`"
    stale = [name for name, text in fresh.items() if committed[name] != text]
    assert not stale, f"{', '.join(stale)} stale: run `make proto`"
