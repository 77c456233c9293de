from __future__ import annotations

import io

import pytest

from meridian.cli.progress import Printer, human_bytes, line


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (5 * 1024**2, "5.0 MB"),
        (3 * 1024**3, "3.0 GB"),
    ],
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "expected"),
    [
        (0, 100, 1.0, "[..........]   0%  0/100 entries  0 B  0/s  ETA ?"),
        (50, 100, 5.0, "[#####.....]  50%  50/100 entries  0 B  10/s  ETA 5s"),
        (100, 100, 4.0, "[##########] 100%  100/100 entries  0 B  25/s  ETA 0s"),
        (150, 100, 1.0, "[##########] 100%  150/100 entries  0 B  150/s  ETA 0s"),
        (7, 0, 1.0, "7 entries  0 B  7/s"),
    ],
)
def test_line(done: int, total: int, elapsed: float, expected: str) -> None:
    assert line(done, total, 0, elapsed, width=10) == expected


def test_printer_without_terminal_prints_whole_lines_rate_limited() -> None:
    out = io.StringIO()
    printer = Printer(out, every=3600)
    printer.update(1, 10, 0)
    printer.update(2, 10, 0)  # within the interval: skipped
    printer.finish()
    assert out.getvalue().count("\n") == 1 and "1/10" in out.getvalue()
