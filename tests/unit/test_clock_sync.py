"""The startup check of the system clock: the decision, and the kernel probe."""

from __future__ import annotations

import pytest

from meridian.daemon.clock_sync import STA_UNSYNC, TIME_ERROR, ClockReading, assess, probe

OK = 0
PLL = 0x0001  # a status flag an NTP daemon sets; not STA_UNSYNC


@pytest.mark.parametrize(
    ("reading", "warned"),
    [
        (None, None),  # unknown (no adjtimex): not reported as a fault
        (ClockReading(OK, PLL, 1_000), None),
        (ClockReading(OK, PLL, 2_500_000), None),  # exactly half of 5 s
        (ClockReading(OK, PLL, 2_500_001), "may be off by up to 2500 ms"),
        (ClockReading(TIME_ERROR, STA_UNSYNC, 16_000_000), "not synchronised"),
        (ClockReading(OK, STA_UNSYNC | PLL, 1_000), "not synchronised"),
        (ClockReading(TIME_ERROR, 0, 1_000), "not synchronised"),
    ],
)
def test_assess(reading: ClockReading | None, warned: str | None) -> None:
    warning = assess(reading, 5000)
    if warned is None:
        assert warning is None
    else:
        assert warning is not None and warned in warning
        assert "max_clock_offset" in warning


def test_the_warning_names_the_configured_offset() -> None:
    warning = assess(ClockReading(TIME_ERROR, STA_UNSYNC, 0), 250)
    assert warning is not None and "(250 ms)" in warning


def test_probe_reads_the_kernel_clock_state() -> None:
    reading = probe()
    assert reading is not None  # Linux, glibc: adjtimex with no modes needs no privilege
    assert 0 <= reading.state <= TIME_ERROR
    assert reading.max_error_us >= 0
