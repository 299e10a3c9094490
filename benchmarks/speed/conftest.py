"""Peer benchmarks: ours and landmarker's on the same inputs in the same run, as ratios.

Each comparison is a pytest-benchmark *group* holding a test whose name ends in ``[ours]``
style id ``ours`` and one with id ``landmarker``. At the end of the session the median-time
ratio landmarker / ours is printed per group (> 1 means we are faster). When landmarker is
not installed its side is skipped and only our timings are reported.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


def import_landmarker(module: str) -> ModuleType:
    """Import a landmarker module or skip the test (the peer is an optional extra)."""
    try:
        return importlib.import_module(module)
    except Exception as exc:  # ImportError, or a missing optional dependency inside it
        pytest.skip(f"landmarker is not importable ({exc}); pip install -e '.[compare]'")


def _medians(config: pytest.Config) -> dict[str, dict[str, float]]:
    session = getattr(config, "_benchmarksession", None)
    groups: dict[str, dict[str, float]] = {}
    for bench in getattr(session, "benchmarks", []) or []:
        if bench.has_error or not bench.stats:
            continue
        side = "landmarker" if "landmarker" in bench.name else "ours"
        stats = getattr(bench.stats, "stats", bench.stats)  # differs across plugin versions
        groups.setdefault(bench.group or bench.name, {})[side] = stats.median
    return groups


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    groups = _medians(config)
    if not groups:
        return
    terminalreporter.section("landmarkbench vs landmarker (median time ratio, >1 = ours faster)")
    for group, sides in sorted(groups.items()):
        ours, theirs = sides.get("ours"), sides.get("landmarker")
        if ours and theirs:
            terminalreporter.write_line(
                f"{group:40s} ours {ours * 1e3:9.2f} ms  landmarker {theirs * 1e3:9.2f} ms  "
                f"ratio {theirs / ours:7.1f}x"
            )
        elif ours:
            terminalreporter.write_line(f"{group:40s} ours {ours * 1e3:9.2f} ms  (no landmarker)")
