"""The sanitized build loaded in place of the installed module; run as a module, pytest with
it (the extension's own differential tests under the sanitizers)::

    python -m tests.fuzz.sanitized tests/unit/test_item_bytes.py
"""

from __future__ import annotations

import importlib.util
import os
import sys

NAME = "meridian.model._item_check"


def load_sanitized() -> None:
    """Load the module MERIDIAN_SANITIZED_MODULE names as meridian.model._item_check, before
    anything imports the installed one (item_bytes.compiled_module then finds it)."""
    path = os.environ.get("MERIDIAN_SANITIZED_MODULE")
    if not path:
        return
    spec = importlib.util.spec_from_file_location(NAME, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[NAME] = module


def main() -> None:
    load_sanitized()
    import pytest  # after the load: the test modules import the extension

    sys.exit(pytest.main(["-p", "no:cacheprovider", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
