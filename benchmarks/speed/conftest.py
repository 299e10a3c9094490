"""Peer benchmarks: ours and landmarker's on the same inputs in the same run, as ratios.

Each test times our side alone with pytest-benchmark and both sides in interleaved pairs
(``interleaved.time_pairs``) and records a line that is printed at the end of the session:
the median per-pair ratio landmarker / ours (> 1 means we are faster), its min-max over the
pairs, the torch thread count and the load average. When landmarker is not installed its
side is skipped. ``LANDMARKBENCH_BENCH_QUICK=1`` runs everything at tiny sizes (a dry run);
``LANDMARKBENCH_BENCH_DEVICE=cuda`` runs on a GPU (default cpu; the summary names the device).
"""

from __future__ import annotations

import pytest

_LINES: list[str] = []


@pytest.fixture(scope="session")
def summary_lines() -> list[str]:
    """Lines printed in the terminal summary (each test appends its ratio line)."""
    return _LINES


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _LINES:
        return
    from interleaved import bench_device

    device = bench_device()
    where = "" if device == "cpu" else f", on {device} (AMP in training steps)"
    terminalreporter.section(
        f"landmarkbench vs landmarker (interleaved pairs, >1 = ours faster{where})"
    )
    for line in _LINES:
        terminalreporter.write_line(line)
