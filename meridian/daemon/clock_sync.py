"""Whether the system clock is synchronised, checked once at startup.

Replication refuses records stamped further ahead of the receiving node's clock than
`replication.max_clock_offset`, so a clock that drifts unsynchronised eventually stops a
link. The kernel knows whether an NTP daemon keeps the clock in step: adjtimex(2) with no
modes (read-only, allowed without privileges and inside containers) returns the clock state,
STA_UNSYNC in its status, and the maximum error the daemon estimates. `assess` decides from
those; `probe` reads them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

TIME_ERROR = 5  # adjtimex's return value while the clock is not synchronised
STA_UNSYNC = 0x0040


@dataclass(frozen=True)
class ClockReading:
    state: int  # adjtimex's return value (TIME_OK 0 ... TIME_ERROR 5)
    status: int  # timex.status flags
    max_error_us: int  # timex.maxerror: the kernel's bound on the clock's error


def assess(reading: ClockReading | None, max_clock_offset_ms: int) -> str | None:
    """The warning to log for `reading`, or None when the clock is fine. None also when the
    state could not be read (`reading` None): unknown is not reported as a fault."""
    if reading is None:
        return None
    if reading.state == TIME_ERROR or reading.status & STA_UNSYNC:
        return (
            "the system clock is not synchronised (no NTP daemon keeps it in step): clocks "
            f"of regions that drift more than replication.max_clock_offset "
            f"({max_clock_offset_ms} ms) apart stop replication; run chrony or "
            "systemd-timesyncd (see docs/deployment.md)"
        )
    if reading.max_error_us > max_clock_offset_ms * 1000 // 2:
        return (
            f"the system clock may be off by up to {reading.max_error_us // 1000} ms, more than "
            f"half of replication.max_clock_offset ({max_clock_offset_ms} ms): check its NTP "
            "sources"
        )
    return None


class _Timeval(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long))


class _Timex(ctypes.Structure):
    """struct timex of <sys/timex.h> (Linux), with its trailing padding."""

    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    )


def probe() -> ClockReading | None:
    """The kernel's clock state through adjtimex (modes 0: read only); None when it cannot
    be read (not Linux, no libc, or a seccomp filter refuses the call)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        timex = _Timex()
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError) as exc:
        log.debug("cannot read the clock state: %s", exc)
        return None
    if state < 0:
        log.debug("adjtimex failed: errno %d", ctypes.get_errno())
        return None
    return ClockReading(state, timex.status, timex.maxerror)


def warn_if_unsynchronised(max_clock_offset_ms: int) -> None:
    warning = assess(probe(), max_clock_offset_ms)
    if warning:
        log.warning("%s", warning)
