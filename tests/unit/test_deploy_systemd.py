"""The systemd units in deploy/systemd, checked by `systemd-analyze verify` (Debian's
systemd package; .ci/run installs it where it is missing). Any warning fails the test."""

from __future__ import annotations

import configparser
import pathlib
import shutil
import subprocess
import sys

import pytest

UNITS = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "systemd"
COMPONENTS = ("node", "replicator", "triggers")
INSTALLED = "/opt/meridian/bin/meridian"  # where docs/deployment.md installs the command


def unit_path(component: str) -> pathlib.Path:
    return UNITS / f"meridian-{component}@.service"


def service_section(component: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(unit_path(component))
    return parser["Service"]


def test_every_unit_passes_systemd_analyze_verify(tmp_path: pathlib.Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: install Debian's systemd package (.ci/run does)")
    # verify also checks that ExecStart's program exists: point it at this checkout's
    # `meridian` instead of the installed path, and change nothing else.
    here = pathlib.Path(sys.executable).parent / "meridian"
    copies = []
    for component in COMPONENTS:
        text = unit_path(component).read_text()
        assert f"ExecStart={INSTALLED} {component} " in text
        copy = tmp_path / unit_path(component).name
        copy.write_text(text.replace(INSTALLED, str(here)))
        copies.append(str(copy))
    result = subprocess.run(
        [analyze, "verify", *copies], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


@pytest.mark.parametrize("component", COMPONENTS)
def test_units_notify_readiness_and_do_not_restart_on_bad_config(component: str) -> None:
    service = service_section(component)
    assert service["Type"] == "notify"
    assert service["RestartPreventExitStatus"] == "3"  # meridian's configuration exit code
    assert service["Restart"] == "on-failure"
    assert service["User"] == "meridian"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/meridian"
    assert service["NoNewPrivileges"] == "yes"
    assert service["StandardError"] == "journal"
    assert "ProtectClock" not in service  # it would hide the clock state from the check
