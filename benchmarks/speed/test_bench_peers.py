"""Every speed comparison of ``peers.py``, the write-limit check and the training throughput,
as pytest-benchmark tests (run with ``--benchmark-only``; ``report.py`` runs the same code
and writes the README table).

pytest-benchmark times our side alone (its statistics and JSON output); the ratio comes from
interleaved pairs of both sides in the same test. Agreement checks fail a test; speed goals
are reported (✓/✗ in the summary), not asserted, since a loaded machine cannot meet them.

``LANDMARKBENCH_BENCH_DEVICE`` (default cpu) picks the device, e.g. ``cuda``; there the
comparisons that are CPU work by nature (``gpu=False``) are skipped, and our side's
pytest-benchmark calls wait for the device (``interleaved.synchronised``).
"""

from __future__ import annotations

import pytest
from interleaved import bench_device, quick_mode, synchronised
from peers import COMPARISONS, Comparison, PeerMissing

OURS_ROUNDS = {"rounds": 5, "iterations": 1, "warmup_rounds": 1}


@pytest.mark.parametrize("comparison", COMPARISONS, ids=[c.name for c in COMPARISONS])
def test_peer(benchmark, comparison: Comparison, summary_lines: list[str]) -> None:
    quick, device = quick_mode(), bench_device()
    if device != "cpu" and not comparison.gpu:
        pytest.skip(f"CPU work by nature (gpu=False), not timed on {device}")
    try:
        sides = comparison.build(quick, device)
    except PeerMissing as missing:
        pytest.skip(str(missing))
    agreement = sides.agreement()
    benchmark.group = comparison.name
    ours = sides.ours if device == "cpu" else synchronised(sides.ours)
    benchmark.pedantic(ours, **OURS_ROUNDS)
    timing = comparison.time(sides, quick)
    low, high = timing.spread
    benchmark.extra_info.update(
        ratio=timing.ratio, ratio_min=low, ratio_max=high, threads=timing.threads,
        load_before=timing.load_before, load_after=timing.load_after, agreement=agreement,
    )  # fmt: skip
    goal = "" if comparison.goal is None else f" goal >= {comparison.goal:g}x"
    met = comparison.mark(timing.ratio)
    summary_lines.append(f"{comparison.name:42s} {timing.describe()}; {agreement}{goal}{met}")


# The two checks below measure inside; pytest-benchmark times the whole check once (a test
# without the fixture would be skipped under --benchmark-only).
ONCE = {"rounds": 1, "iterations": 1}


def test_targets_near_the_memory_write_limit(benchmark, summary_lines: list[str]) -> None:
    import memory_limit

    benchmark.group = "targets vs memory-write limit (whole check)"
    limits = benchmark.pedantic(
        memory_limit.run, args=(quick_mode(),), kwargs={"device": bench_device()}, **ONCE
    )
    summary_lines.extend(limit.describe() for limit in limits)


def test_training_throughput(benchmark, summary_lines: list[str]) -> None:
    import throughput

    benchmark.group = "training throughput (whole check)"
    try:
        results = benchmark.pedantic(
            throughput.run, args=(quick_mode(),), kwargs={"device": bench_device()}, **ONCE
        )
    except PeerMissing as missing:
        pytest.skip(str(missing))
    summary_lines.extend(result.describe() for result in results)
