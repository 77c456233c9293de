"""A build of the compiled extension with AddressSanitizer and UndefinedBehaviorSanitizer
into a directory of its own, and the environment a Python process needs to load it.

CPython itself is not built with the sanitizers, so libasan must come first in the process
(LD_PRELOAD) and its leak checker stays off: CPython keeps memory until exit on purpose.
UBSan reports abort the process (-fno-sanitize-recover), as ASan's do.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import sysconfig

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = ["meridian/model/_item_check.c", "meridian/model/_replicated.c"]
DEPENDS = [*SOURCES, "meridian/model/_wire.h"]
FLAGS = [
    "-shared",
    "-fPIC",
    "-O1",
    "-g",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-Wall",
]
MODULE = "_item_check"


class BuildError(RuntimeError):
    """The sanitized build failed: the compiler's output."""


def compiler() -> str:
    return os.environ.get("CC", "gcc")


def library_path() -> str:
    """The path of the compiler's libasan, for LD_PRELOAD."""
    out = subprocess.run(
        [compiler(), "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not os.path.isabs(out) or not os.path.exists(out):
        raise BuildError(f"{compiler()} has no libasan.so (install libasan8 or gcc)")
    return os.path.realpath(out)


def build(directory: pathlib.Path) -> pathlib.Path:
    """The sanitized module built into `directory` (again only when a source is newer)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / (MODULE + sysconfig.get_config_var("EXT_SUFFIX"))
    newest = max((ROOT / path).stat().st_mtime for path in DEPENDS)
    if target.exists() and target.stat().st_mtime >= newest:
        return target
    return compile_shared([ROOT / source for source in SOURCES], target)


def compile_shared(sources: list[pathlib.Path], target: pathlib.Path) -> pathlib.Path:
    """`sources` compiled with the sanitizers into the shared library `target`."""
    include = sysconfig.get_paths()["include"]
    command = [compiler(), *FLAGS, f"-I{include}", *map(str, sources), "-o", str(target)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"{' '.join(command)}\n{done.stdout}{done.stderr}")
    return target


def environment(module: pathlib.Path) -> dict[str, str]:
    """The environment of a Python process that loads the sanitized `module`
    (tests.fuzz.driver finds it by MERIDIAN_SANITIZED_MODULE)."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = library_path()
    # A runaway input stops at 2 GB of resident memory, not at the machine's end.
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:halt_on_error=1:hard_rss_limit_mb=2048"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    env["MERIDIAN_SANITIZED_MODULE"] = str(module)
    env["PYTHONPATH"] = str(ROOT)
    return env


def main() -> None:
    """Build into var/sanitized, then run the fuzz driver under the sanitizers with the
    arguments given (`make fuzz`)."""
    module = build(ROOT / "var" / "sanitized")
    command = [sys.executable, "-m", "tests.fuzz.driver", *sys.argv[1:]]
    os.execve(sys.executable, command, environment(module))


if __name__ == "__main__":
    main()
