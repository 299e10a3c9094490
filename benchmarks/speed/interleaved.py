"""Interleaved A/B timing: the two sides of a comparison alternate, so load drift cancels.

Timing every round of one side before the other lets a change in machine load (another job
starting, a frequency step) leak into the ratio. Here each *pair* times both sides back to
back, the side that goes first alternates from pair to pair, and the ratio is taken per pair;
the median of the per-pair ratios is reported with its spread (min-max), beside the torch
thread count and the load average before and after. Both the pytest-benchmark tests and the
report command (``report.py``) time through this module.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

QUICK_ENV = "LANDMARKBENCH_BENCH_QUICK"


def quick_mode() -> bool:
    """Whether the benchmarks run at tiny sizes (a dry run), from ``$LANDMARKBENCH_BENCH_QUICK``."""
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


def seconds(function: Callable[[], object]) -> float:
    """Wall time of one call (perf_counter)."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


@dataclass(frozen=True)
class PairedTiming:
    """Per-pair times of both sides, ``reference`` (landmarker) over ``ours`` per pair.

    Attributes:
        ours: Seconds per pair, our side.
        reference: Seconds per pair, the other side.
        threads: ``torch.get_num_threads()`` during the timing.
        load_before: 1-minute load average before the first pair.
        load_after: 1-minute load average after the last pair.
    """

    ours: tuple[float, ...]
    reference: tuple[float, ...]
    threads: int
    load_before: float
    load_after: float

    @property
    def ratios(self) -> list[float]:
        return [r / o for o, r in zip(self.ours, self.reference, strict=True)]

    @property
    def ratio(self) -> float:
        """Median per-pair ratio (> 1: ours is faster)."""
        return statistics.median(self.ratios)

    @property
    def spread(self) -> tuple[float, float]:
        """Smallest and largest per-pair ratio."""
        return min(self.ratios), max(self.ratios)

    def describe(self) -> str:
        low, high = self.spread
        return (
            f"ours {statistics.median(self.ours) * 1e3:9.2f} ms  other "
            f"{statistics.median(self.reference) * 1e3:9.2f} ms  ratio {self.ratio:7.1f}x "
            f"[{low:.1f}-{high:.1f}] over {len(self.ours)} pairs, {self.threads} thread(s), "
            f"load {self.load_before:.2f} -> {self.load_after:.2f}"
        )


def time_pairs(
    ours: Callable[[], object],
    reference: Callable[[], object],
    pairs: int,
    warmup: int = 1,
) -> PairedTiming:
    """Time ``pairs`` alternating pairs of calls after ``warmup`` untimed calls of each.

    Pair k runs ours first when k is even and the reference first when k is odd.

    Args:
        ours: Our side, called without arguments.
        reference: The other side (landmarker, or an uncached baseline).
        pairs: Number of timed pairs (at least 1).
        warmup: Untimed calls of each side before the first pair.

    Returns:
        The per-pair times with thread count and load averages.

    Raises:
        ValueError: If ``pairs`` is below 1.
    """
    if pairs < 1:
        raise ValueError(f"At least one timed pair is needed; got pairs={pairs}.")
    for _ in range(warmup):
        ours()
        reference()
    load_before = os.getloadavg()[0]
    ours_times, reference_times = [], []
    for k in range(pairs):
        if k % 2 == 0:
            ours_times.append(seconds(ours))
            reference_times.append(seconds(reference))
        else:
            reference_times.append(seconds(reference))
            ours_times.append(seconds(ours))
    return PairedTiming(
        tuple(ours_times),
        tuple(reference_times),
        torch.get_num_threads(),
        load_before,
        os.getloadavg()[0],
    )


def median_seconds(function: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        function()
    return statistics.median(seconds(function) for _ in range(repeats))
