"""Telling systemd how the service is doing (`Type=notify` units): READY=1 once serving,
STOPPING=1 when the stop begins. A datagram to the socket named by $NOTIFY_SOCKET, as
sd_notify(3) sends it; nothing happens when the variable is unset (not run by systemd)."""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)

READY = "READY=1"
STOPPING = "STOPPING=1"


def socket_address(value: str) -> str | bytes | None:
    """The address of $NOTIFY_SOCKET's value: a path, or an abstract name ("@name" becomes
    a leading NUL byte); None for anything else (systemd only uses these two forms)."""
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def notify(state: str) -> bool:
    """Send `state` to the service manager; whether it was sent. A failure is logged, never
    raised: the service runs on without it (systemd reports the missing READY itself)."""
    value = os.environ.get("NOTIFY_SOCKET", "")
    if not value:
        return False
    address = socket_address(value)
    if address is None:
        log.warning("NOTIFY_SOCKET=%r is not a socket path; %s not sent", value, state)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.warning("cannot notify the service manager (%s) of %s: %s", value, state, exc)
        return False
    return True
