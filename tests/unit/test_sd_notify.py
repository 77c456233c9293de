"""sd_notify: the datagram systemd reads from $NOTIFY_SOCKET, on a real unix socket."""

from __future__ import annotations

import pathlib
import socket
import tempfile
from collections.abc import Iterator

import pytest

from meridian.daemon import sd_notify


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("/run/systemd/notify", "/run/systemd/notify"),
        ("@meridian/notify", b"\0meridian/notify"),
        ("@", None),
        ("relative/path", None),
        ("vsock:2:1234", None),
    ],
)
def test_socket_address(value: str, address: str | bytes | None) -> None:
    assert sd_notify.socket_address(value) == address


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket bound at a short path (unix socket paths end at 107 bytes)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        path = str(pathlib.Path(tmp) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(5)
            yield sock, path


def test_notify_sends_the_state_to_the_socket(
    listener: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    assert sd_notify.notify(sd_notify.READY)
    assert sd_notify.notify(sd_notify.STOPPING)
    assert sock.recv(4096) == b"READY=1"
    assert sock.recv(4096) == b"STOPPING=1"


def test_notify_reaches_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"meridian-test-{id(monkeypatch)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", f"@{name}")
        assert sd_notify.notify(sd_notify.READY)
        assert sock.recv(4096) == b"READY=1"


def test_without_a_service_manager_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sd_notify.notify(sd_notify.READY)


def test_an_unusable_socket_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/meridian/notify")
    assert not sd_notify.notify(sd_notify.READY)
    monkeypatch.setenv("NOTIFY_SOCKET", "not-a-path")
    assert not sd_notify.notify(sd_notify.READY)
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
