"""The size of a conformal region: the continuous set where the interpolated map reaches the
threshold, measured in pixels (voxels) of the map grid.

Coverage is decided with the bilinear (trilinear) interpolation of the map at the truth, so
the region whose size is reported is ``{u : p_interp(u) >= t}`` over the image extent, not
the set of pixel centres above ``t``: on a coarse network grid (a pixel of several mm) the
centre count is quantised to whole pixels, and the reference implementation measures the
region on the original, finer grid. Interpolation is a convex combination of the ``2**d``
surrounding pixel centres, so the footprint of a pixel (its centre +- half a pixel) lies
entirely inside the region when its ``3**d`` neighbourhood is all above ``t`` and entirely
outside when none of it is. Only the pixels in between (the boundary) are supersampled, at
the centres of an ``s**d`` sub-grid (``s`` = 16 in 2D, 6 in 3D; one matrix product from the
pixel's neighbourhood): a boundary straight along the grid is placed within 1/(2s) pixel.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from landmarkbench.uncertainty.probability_maps import RegionRule, regions

__all__ = ["DEFAULT_SUPERSAMPLING", "region_measure"]

DEFAULT_SUPERSAMPLING = {2: 16, 3: 6}


def _neighbourhood(above: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pixel, whether any / all of its 3**d neighbours (border replicated) are above."""
    d = above.ndim - 2
    flat = above.flatten(0, 1)[:, None].float()
    padded = F.pad(flat, [1] * (2 * d), mode="replicate")
    pool = F.max_pool2d if d == 2 else F.max_pool3d
    any_above = pool(padded, 3, stride=1)[:, 0].view(above.shape) > 0.5
    all_above = -pool(-padded, 3, stride=1)[:, 0].view(above.shape) > 0.5
    return any_above, all_above


def _weights(d: int, s: int) -> torch.Tensor:
    """Interpolation weights (3**d, s**d) from a pixel's 3**d neighbourhood to the centres of
    an s**d sub-grid of its footprint (offsets in (-0.5, 0.5) from its centre)."""
    offsets = (torch.arange(s, dtype=torch.float64) + 0.5) / s - 0.5
    # Per axis: weights of the neighbours at -1, 0, +1 for each offset (linear interpolation).
    axis = torch.stack([(-offsets).clamp(min=0), 1 - offsets.abs(), offsets.clamp(min=0)])  # (3, s)
    weights = axis
    for _ in range(d - 1):
        weights = torch.einsum("ab,cd->acbd", weights, axis).reshape(
            weights.shape[0] * 3, weights.shape[1] * s
        )
    return weights


def region_measure(
    rule: RegionRule,
    probabilities: torch.Tensor,
    supersample: int | None = None,
    chunk: int = 16_384,
) -> np.ndarray:
    """Size of each region ``{u : p_interp(u) >= -q}`` in map pixels (voxels), (M, C).

    Args:
        rule: A ``ConformalCalibration`` (or another ``RegionRule``) giving the thresholds.
        probabilities: Spatial-softmax maps (M, C, *spatial).
        supersample: Sub-points per axis in boundary pixels (default 16 in 2D, 6 in 3D).
        chunk: Boundary pixels evaluated at once (bounds the memory).

    Returns:
        float64 (M, C): interior pixels count 1, boundary pixels the fraction of their
        sub-points in the region; whole-image regions measure the whole grid.

    Raises:
        ValueError: If the maps are not (M, C, *spatial) probabilities or the landmark count
            differs from the calibration.
    """
    above = regions(rule, probabilities)  # validates; centre values >= threshold
    d = above.ndim - 2
    s = int(supersample or DEFAULT_SUPERSAMPLING[d])
    any_above, all_above = _neighbourhood(above)
    size = all_above.flatten(2).sum(dim=-1).to(torch.float64).flatten()  # (M * C,)
    boundary = torch.nonzero((any_above & ~all_above).flatten(0, 1))  # (K, 1 + d)
    if boundary.numel() == 0:
        return size.view(above.shape[:2]).cpu().numpy()
    # Replicate padding: beyond the outer pixel centres the map keeps its border value, as
    # in ``interpolate_at``; every sub-point stays inside the image extent.
    maps = probabilities.flatten(0, 1)[:, None].to(torch.float64)
    padded = F.pad(maps, [1] * (2 * d), mode="replicate")[:, 0]
    window = torch.tensor(
        list(itertools.product(range(3), repeat=d)), device=padded.device
    )  # (3**d, d)
    weights = _weights(d, s).to(padded.device)
    exact = rule.map_thresholds(probabilities).to(padded.device).flatten()  # (M * C,)
    for start in range(0, boundary.shape[0], chunk):
        part = boundary[start : start + chunk]
        flat_map, pixel = part[:, 0], part[:, 1:]
        corner = pixel[:, None, :] + window[None]  # (k, 3**d, d) in padded coordinates
        neighbourhood = padded[(flat_map[:, None], *corner.unbind(-1))]  # (k, 3**d)
        values = neighbourhood @ weights  # (k, s**d): the interpolated sub-points
        threshold = exact[flat_map][:, None]
        fraction = (values >= threshold).to(torch.float64).mean(dim=1)
        size.index_add_(0, flat_map, fraction)
    return size.view(above.shape[:2]).cpu().numpy()
