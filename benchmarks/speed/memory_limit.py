"""Gaussian targets against the memory-write limit (issue 16, acceptance 3).

Generating a batch of peak-1 isotropic Gaussians must write every output value once, so its
floor is the time to write that many bytes. Both are measured here in the same run on the
same reused buffer: ``buffer.fill_(1.0)`` (the write limit) and ``gaussian_heatmaps(...,
out=buffer)`` (generation into a reused buffer, as the training objective does), timed in
interleaved pairs (``interleaved.time_pairs``), so the ratio is taken per pair as for the peer
comparisons; the allocating call (a fresh tensor per batch, page faults included) is shown
too, a median of repeats.
The goal: generation within 3x the write time, for 8x19x512² (2D) and 2x8x128³ (3D).

On a CUDA device the buffer and the points live on the device and every time is taken with
``interleaved.seconds``, which synchronises before and after each call.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch
from interleaved import median_seconds, time_pairs

from landmarkbench.heatmaps.gaussian import gaussian_heatmaps

GOAL = 3.0
SIGMA = 3.0


@dataclass(frozen=True)
class WriteLimit:
    """Median seconds of one batch (write limit, generation into a buffer, allocating) and
    the per-pair ratios generation / write."""

    label: str
    megabytes: float
    fill: float
    into_buffer: float
    allocating: float
    pair_ratios: tuple[float, ...]

    @property
    def ratio(self) -> float:
        """Median per-pair ratio of generation over the write (goal: at most ``GOAL``)."""
        return statistics.median(self.pair_ratios)

    def describe(self) -> str:
        return (
            f"{self.label} ({self.megabytes:.0f} MB): fill {self.fill * 1e3:.1f} ms, "
            f"targets into a reused buffer {self.into_buffer * 1e3:.1f} ms "
            f"({self.ratio:.2f}x the write; goal <= {GOAL:g}x), allocating "
            f"{self.allocating * 1e3:.1f} ms"
        )


def sizes(quick: bool) -> list[tuple[str, tuple[int, int], tuple[int, ...]]]:
    """(label, (batch, landmarks), spatial shape) of the measured batches."""
    if quick:
        return [("2x19x64²", (2, 19), (64, 64)), ("1x8x16³", (1, 8), (16, 16, 16))]
    return [("8x19x512²", (8, 19), (512, 512)), ("2x8x128³", (2, 8), (128, 128, 128))]


@torch.no_grad()
def measure(
    label: str,
    batch: tuple[int, int],
    shape: tuple[int, ...],
    repeats: int,
    device: str | torch.device = "cpu",
) -> WriteLimit:
    """Time the write limit against target generation for one batch size (``repeats``
    interleaved pairs) and the allocating call (median of ``repeats``).

    Args:
        label: Row label.
        batch: (batch, landmarks).
        shape: Spatial shape of the maps.
        repeats: Timed pairs (and allocating calls).
        device: Where the points and the buffer live.

    Raises:
        AssertionError: If the buffer path differs from the allocating one.
    """
    generator = torch.Generator().manual_seed(0)  # drawn on the CPU: the same on any device
    points = (torch.rand(*batch, len(shape), generator=generator) * (min(shape) - 1)).to(device)
    buffer = torch.empty(*batch, *shape, device=device)
    buffer.fill_(0.0)  # map the pages once, as a buffer reused across batches is
    expected = gaussian_heatmaps(points, shape, SIGMA)
    assert torch.equal(gaussian_heatmaps(points, shape, SIGMA, out=buffer), expected)
    del expected
    pairs = time_pairs(
        lambda: buffer.fill_(1.0),
        lambda: gaussian_heatmaps(points, shape, SIGMA, out=buffer),
        repeats,
    )  # "ours" is the write limit here, so the per-pair ratio is generation / write
    allocating = median_seconds(lambda: gaussian_heatmaps(points, shape, SIGMA), repeats)
    return WriteLimit(
        label,
        buffer.numel() * 4 / 1e6,
        statistics.median(pairs.ours),
        statistics.median(pairs.reference),
        allocating,
        tuple(pairs.ratios),
    )


def run(quick: bool, repeats: int = 9, device: str | torch.device = "cpu") -> list[WriteLimit]:
    """Measure every batch size of :func:`sizes` on ``device``."""
    return [measure(label, batch, shape, repeats, device) for label, batch, shape in sizes(quick)]
