"""The compiled extension built with AddressSanitizer and UndefinedBehaviorSanitizer, fed
a few thousand structure-aware mutations of real records and items (tests/fuzz; `make fuzz`
runs more), in a process of its own: no sanitizer report, the Python code's verdicts, and
no memory or references kept by 10^5 compiled calls; and the extension's differential unit
tests on that build."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from tests.fuzz import build

INPUTS = int(os.environ.get("MERIDIAN_FUZZ_INPUTS", "3000"))
FAULTS = """
#include <stdlib.h>
int heap_read(int size, int at) { char *p = calloc(size, 1); int v = p[at]; free(p); return v; }
int shift(int by) { return 1 << by; }
"""


def _run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_sanitized_module_agrees_with_python_on_mutated_input(tmp_path: pathlib.Path) -> None:
    env = build.environment(build.build(tmp_path))
    done = _run(env, "-m", "tests.fuzz.driver", "--inputs", str(INPUTS), "--seed", "15")
    assert done.returncode == 0, done.stdout + done.stderr[-20000:]
    assert f"fuzz: {INPUTS} inputs (seed 15) on the sanitized module" in done.stdout


def test_differential_tests_pass_on_the_sanitized_module(tmp_path: pathlib.Path) -> None:
    """The extension's own differential tests (hand-written edge cases, seeded records)."""
    env = build.environment(build.build(tmp_path))
    tests = ["tests/unit/test_item_bytes.py", "tests/unit/test_replicated_bytes.py"]
    tests.append("tests/unit/test_item_key.py")
    done = _run(env, "-m", "tests.fuzz.sanitized", "-q", "-p", "no:randomly", *tests)
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-20000:]


@pytest.mark.parametrize(
    ("call", "report"),
    [
        ("heap_read(8, 8)", "AddressSanitizer: heap-buffer-overflow"),
        ("shift(40)", "runtime error: shift exponent 40"),
    ],
)
def test_sanitizers_report_in_the_fuzz_process(
    tmp_path: pathlib.Path, call: str, report: str
) -> None:
    """The environment the driver runs in does report: a fault in a library built the same
    way aborts the process with the sanitizer's report."""
    source = tmp_path / "faults.c"
    source.write_text(FAULTS)
    library = build.compile_shared([source], tmp_path / "faults.so")
    done = _run(
        build.environment(library), "-c", f"import ctypes; ctypes.CDLL({str(library)!r}).{call}"
    )
    assert done.returncode != 0
    assert report in done.stderr, done.stderr
