"""Multi-instance peak finding: local maxima above a threshold, non-maximum suppressed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from landmarkbench.heatmaps._grid import check_heatmaps, coordinate_dtype, row_major_strides

_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}


@dataclass(frozen=True)
class Peaks:
    """Peaks of a batch of maps, padded to the largest count K.

    Attributes:
        coords: (B, C, K, d) integer pixel indices (array-index order) as floats, sorted by
            decreasing score within each map; NaN beyond ``counts`` (the missing-landmark
            convention).
        scores: (B, C, K) map values at the peaks; NaN beyond ``counts``.
        counts: (B, C) number of peaks of each map (long).
    """

    coords: torch.Tensor
    scores: torch.Tensor
    counts: torch.Tensor

    @property
    def valid(self) -> torch.Tensor:
        """(B, C, K) bool mask of the real (non-padding) peaks."""
        k = torch.arange(self.scores.shape[-1], device=self.counts.device)
        return k < self.counts[..., None]

    def as_lists(self) -> list[list[torch.Tensor]]:
        """Ragged form: a list over batch of lists over classes of (k, d) coordinate tensors."""
        counts = self.counts.tolist()
        return [[self.coords[b, c, :k] for c, k in enumerate(row)] for b, row in enumerate(counts)]


def find_peaks(
    heatmaps: torch.Tensor,
    radius: float,
    threshold: float,
    max_peaks: int | None = None,
) -> Peaks:
    """Local maxima above a threshold with non-maximum suppression within a radius.

    A peak is a pixel whose value is strictly above ``threshold`` and at least that of every
    pixel within Euclidean distance ``radius`` of it (pixels outside the image are ignored,
    so peaks on the border are found). Among equal maxima closer than ``radius`` to each
    other (plateaus), only the first in row-major order is kept, so kept peaks are always
    more than ``radius`` apart.

    Vectorised over maps: a max-pool over the largest cube inside the ball discards most
    pixels at once, the few remaining candidates are checked against their whole ball by a
    gather, and plateaus are thinned by a greedy pass over candidate ranks (all maps at
    once). The cost grows with the number of pixels above the threshold (times the ball's
    volume); heatmaps have few peaks, raise the threshold for noisy maps.

    Args:
        heatmaps: Maps of shape (B, C, *spatial) with 1 to 3 spatial axes.
        radius: Suppression radius in pixels (>= 0).
        threshold: Absolute threshold; peaks have values strictly above it.
        max_peaks: Keep at most this many peaks per map (the highest), or None for all.

    Returns:
        A :class:`Peaks` with padded coordinates, scores and per-map counts, on the device
        of ``heatmaps`` (coordinates and scores in the decoders' coordinate dtype).

    Raises:
        ValueError: If the shape, radius or max_peaks is invalid.
    """
    check_heatmaps(heatmaps)
    d = heatmaps.ndim - 2
    if d > 3:
        raise ValueError(
            f"Peak finding supports 1 to 3 spatial axes; got shape {tuple(heatmaps.shape)}. "
            "Pass maps of shape (B, C, H, W) or (B, C, D, H, W)."
        )
    if not (math.isfinite(radius) and radius >= 0):
        raise ValueError(
            f"Radius must be a finite number of pixels >= 0; got {radius!r}. Use e.g. 3.0."
        )
    if max_peaks is not None and (int(max_peaks) != max_peaks or max_peaks < 1):
        raise ValueError(
            f"max_peaks must be a positive integer or None; got {max_peaks!r}. Use e.g. 5."
        )
    batch, channels = heatmaps.shape[:2]
    spatial = heatmaps.shape[2:]
    dtype = coordinate_dtype(heatmaps)
    device = heatmaps.device
    maps = heatmaps.detach().to(dtype)

    # Candidates: above the threshold and the maximum of the cube inscribed in the ball.
    half = math.floor(radius / math.sqrt(d))
    pooled = _MAX_POOL[d](maps, kernel_size=2 * half + 1, stride=1, padding=half)
    found = ((maps == pooled) & (maps > threshold)).nonzero()  # (n, 2 + d), row-major
    map_id = found[:, 0] * channels + found[:, 1]
    points = found[:, 2:]
    flat = maps.flatten(2).flatten(0, 1)  # (maps, N)
    strides = torch.tensor(row_major_strides(spatial), device=device)
    values = flat[map_id, (points * strides).sum(-1)]

    # Exact check against the whole ball (equal values allowed: plateaus are thinned below).
    ball = _ball_offsets(radius, spatial, device)  # (M, d)
    if len(ball):
        sizes = torch.tensor(spatial, device=device)
        around = points[:, None, :] + ball  # (n, M, d)
        inside = ((around >= 0) & (around < sizes)).all(-1)
        around = torch.minimum(around.clamp_min(0), sizes - 1)
        neighbours = flat[map_id[:, None], (around * strides).sum(-1)]
        neighbours = neighbours.masked_fill(~inside, float("-inf"))
        is_max = (neighbours <= values[:, None]).all(dim=1)
        map_id, points, values = map_id[is_max], points[is_max], values[is_max]

    # Order by map, then by decreasing value (stable: row-major among equal values).
    order = torch.sort(values, descending=True, stable=True).indices
    order = order[torch.sort(map_id[order], stable=True).indices]
    map_id, values, points = map_id[order], values[order], points[order].to(dtype)
    n_maps = batch * channels
    per_map = torch.bincount(map_id, minlength=n_maps)
    width = int(per_map.max()) if per_map.numel() else 0
    rank = (
        torch.arange(map_id.numel(), device=device) - (torch.cumsum(per_map, 0) - per_map)[map_id]
    )
    cand_points = torch.zeros(n_maps, width, d, device=device, dtype=dtype)
    cand_points[map_id, rank] = points
    cand_values = torch.zeros(n_maps, width, device=device, dtype=dtype)
    cand_values[map_id, rank] = values
    alive = torch.zeros(n_maps, width, device=device, dtype=torch.bool)
    alive[map_id, rank] = True

    near = torch.cdist(cand_points, cand_points) <= radius  # (maps, width, width)
    kept = torch.zeros_like(alive)
    for j in range(width):  # over candidate ranks, all maps at once
        accept = alive[:, j]
        kept[:, j] = accept
        alive &= ~(near[:, j, :] & accept[:, None])
    if max_peaks is not None:
        kept &= torch.cumsum(kept.long(), dim=1) <= max_peaks

    counts = kept.sum(dim=1)
    k_max = int(counts.max()) if counts.numel() else 0
    slot = torch.cumsum(kept.long(), dim=1) - 1
    rows, cols = kept.nonzero(as_tuple=True)
    coords = torch.full((n_maps, k_max, d), float("nan"), device=device, dtype=dtype)
    scores = torch.full((n_maps, k_max), float("nan"), device=device, dtype=dtype)
    coords[rows, slot[rows, cols]] = cand_points[rows, cols]
    scores[rows, slot[rows, cols]] = cand_values[rows, cols]
    return Peaks(
        coords=coords.view(batch, channels, k_max, d),
        scores=scores.view(batch, channels, k_max),
        counts=counts.view(batch, channels),
    )


def _ball_offsets(radius: float, spatial: Sequence[int], device: torch.device) -> torch.Tensor:
    """Non-zero integer offsets within Euclidean distance ``radius`` that can stay inside a map
    of shape ``spatial`` (at most size - 1 along each axis), shape (M, d)."""
    axes = [
        torch.arange(-min(math.floor(radius), s - 1), min(math.floor(radius), s - 1) + 1)
        for s in spatial
    ]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).view(-1, len(spatial))
    squared = (grid**2).sum(-1)
    return grid[(squared > 0) & (squared <= radius**2)].to(device)
