"""`meridian check-config`: a summary in short lines, and warnings that keep exit code 0."""

from __future__ import annotations

import pathlib

import pytest

from meridian.cli import errors
from meridian.cli import main as cli
from tests.e2e.helpers import e2e_group
from tests.harness import free_ports, write_group

ROOT = pathlib.Path(__file__).parents[2]


@pytest.mark.parametrize("example", ["deploy/local/group.yaml", "examples/group.yaml"])
def test_the_summary_is_several_short_lines(
    example: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["check-config", str(ROOT / example)]) == errors.EXIT_OK
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].endswith("is valid") and len(lines) > 5, out
    assert max(len(line) for line in lines) <= 100, out
    assert err == ""


@pytest.mark.parametrize(
    ("component", "host", "path"),
    [
        ("node", "0.0.0.0", "regions[1].node.listen"),
        ("replicator", "[::]", "regions[1].replicator.listen"),
    ],
)
def test_a_wildcard_listen_address_is_warned_about(
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    component: str,
    host: str,
    path: str,
) -> None:
    doc = e2e_group(tmp_path, ("us-east", "eu-west"))
    port = doc["regions"][1][component]["listen"].rsplit(":", 1)[1]
    doc["regions"][1][component]["listen"] = f"{host}:{port}"
    doc["insecure"] = True  # plaintext beyond loopback: said once, first
    config = write_group(tmp_path / "group.yaml", doc)
    assert cli.main(["check-config", str(config)]) == errors.EXIT_OK
    out, err = capsys.readouterr()
    assert "is valid" in out
    plaintext, warning = err.splitlines()
    assert plaintext.startswith("warning: insecure: true: traffic to addresses"), err
    assert warning.startswith(f"warning: {path}: {host.strip('[]')} is also the address"), err
    assert f"set {component}.advertise" in warning
    assert "docs/deployment.md" in warning


def test_a_wildcard_listen_address_with_an_advertised_one_is_fine(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = e2e_group(tmp_path, ("us-east", "eu-west"))
    port = doc["regions"][1]["node"]["listen"].rsplit(":", 1)[1]
    doc["regions"][1]["node"]["listen"] = f"0.0.0.0:{port}"
    doc["regions"][1]["node"]["advertise"] = f"eu.example.com:{port}"
    doc["insecure"] = True
    config = write_group(tmp_path / "group.yaml", doc)
    assert cli.main(["check-config", str(config)]) == errors.EXIT_OK
    out, err = capsys.readouterr()
    assert f"node 0.0.0.0:{port} (advertised as eu.example.com:{port})" in out
    assert [line.split(":")[1] for line in err.splitlines()] == [" insecure"], err


def test_metrics_on_a_wildcard_address_are_fine(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = e2e_group(tmp_path, ("us-east",))
    port = doc["regions"][0]["metrics"]["listen"].rsplit(":", 1)[1]
    doc["regions"][0]["metrics"]["listen"] = f"0.0.0.0:{port}"
    doc["regions"][0]["replicator"]["metrics"] = f"0.0.0.0:{free_ports(1)[0]}"
    doc["insecure"] = True
    config = write_group(tmp_path / "group.yaml", doc)
    assert cli.main(["check-config", str(config)]) == errors.EXIT_OK
    (only,) = capsys.readouterr().err.splitlines()  # the plaintext warning, nothing more
    assert only.startswith("warning: insecure: true:")
