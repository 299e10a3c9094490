"""Interleaved A/B timing: the two sides of a comparison alternate, so load drift cancels.

Timing every round of one side before the other lets a change in machine load (another job
starting, a frequency step) leak into the ratio. Here each *pair* times both sides back to
back, the side that goes first alternates from pair to pair, and the ratio is taken per pair;
the median of the per-pair ratios is reported with its spread (min-max), beside the torch
thread count and the load average before and after. Both the pytest-benchmark tests and the
report command (``report.py``) time through this module.

On a CUDA device the work is asynchronous: :func:`seconds` synchronises before starting the
clock and after the call whenever CUDA is in use, so a time covers the kernels themselves.
:func:`amp_context` is the one place that decides whether a benchmark's training step runs
under mixed precision (on CUDA only; the CPU runs exactly as without it).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

QUICK_ENV = "LANDMARKBENCH_BENCH_QUICK"
DEVICE_ENV = "LANDMARKBENCH_BENCH_DEVICE"


def quick_mode() -> bool:
    """Whether the benchmarks run at tiny sizes (a dry run), from ``$LANDMARKBENCH_BENCH_QUICK``."""
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


def bench_device() -> str:
    """The device the pytest-benchmark tests run on, from ``$LANDMARKBENCH_BENCH_DEVICE``
    (default "cpu")."""
    return os.environ.get(DEVICE_ENV, "").strip() or "cpu"


def cuda_in_use() -> bool:
    """Whether CUDA has been initialised in this process (so work may still be queued).

    The initialisation flag is read first: it is a cheap check, and on a machine without a
    GPU (or a CPU-only torch) nothing else is asked.
    """
    return torch.cuda.is_initialized() and torch.cuda.is_available()


def synchronize() -> None:
    """Wait for queued CUDA work when CUDA is in use; nothing otherwise."""
    if cuda_in_use():
        torch.cuda.synchronize()


def seconds(function: Callable[[], object]) -> float:
    """Wall time of one call (perf_counter), CUDA work included when CUDA is in use."""
    synchronize()
    start = time.perf_counter()
    function()
    synchronize()
    return time.perf_counter() - start


def synchronised(function: Callable[[], object]) -> Callable[[], object]:
    """``function`` followed by :func:`synchronize`, for timers that do not synchronise
    (pytest-benchmark)."""

    def call() -> object:
        result = function()
        synchronize()
        return result

    return call


def uses_amp(device: str | torch.device) -> bool:
    """Whether a benchmark's training step runs under mixed precision: on CUDA only."""
    return torch.device(device).type == "cuda"


def amp_context(
    device: str | torch.device, dtype: torch.dtype = torch.bfloat16
) -> contextlib.AbstractContextManager:
    """``torch.autocast("cuda", dtype)`` on a CUDA device, else a context that does nothing.

    bfloat16 (the default) keeps float32's exponent range, so no gradient scaling is needed;
    a caller that must match ``fit_loop`` (float16 with a ``GradScaler``) passes its dtype.
    """
    if uses_amp(device):
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


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
    first: int = 0,
) -> PairedTiming:
    """Time ``pairs`` alternating pairs of calls after ``warmup`` untimed calls of each.

    Pair k runs ours first when ``k + first`` is even and the reference first when it is odd
    (separate processes of one pair each alternate through ``first``).

    Args:
        ours: Our side, called without arguments.
        reference: The other side (landmarker, or an uncached baseline).
        pairs: Number of timed pairs (at least 1).
        warmup: Untimed calls of each side before the first pair.
        first: Offset of the alternation (0: pair 0 runs ours first; 1: the reference).

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
        if (k + first) % 2 == 0:
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
