"""Heatmap decoders (map -> coordinate), batched (B, C, *spatial) -> (B, C, d), 2D and 3D.

This module holds the argmax-based decoders (integer argmax, quadratic and log-quadratic
sub-pixel refinement) and re-exports the soft decoders and the multi-peak finder, so
``from landmarkbench.heatmaps.decoders import local_soft_argmax`` works.
"""

from __future__ import annotations

import torch

from landmarkbench.heatmaps._grid import argmax_index, coordinate_dtype, row_major_strides
from landmarkbench.heatmaps.peaks import Peaks, find_peaks
from landmarkbench.heatmaps.soft_decoders import (
    local_soft_argmax,
    soft_argmax,
    weighted_spatial_mean,
)

__all__ = [
    "Peaks",
    "argmax_decode",
    "find_peaks",
    "local_soft_argmax",
    "log_quadratic_subpixel_decode",
    "quadratic_subpixel_decode",
    "soft_argmax",
    "weighted_spatial_mean",
]


def argmax_decode(heatmaps: torch.Tensor) -> torch.Tensor:
    """Integer location of each map's maximum (first one on ties).

    Args:
        heatmaps: Tensor of shape (B, C, *spatial) with 1 to 3 spatial axes.

    Returns:
        Float tensor of shape (B, C, d) in array-index order (float64 for float64 maps,
        else float32), on the device of ``heatmaps``.

    Raises:
        ValueError: If ``heatmaps`` has fewer than three axes.
    """
    return argmax_index(heatmaps).to(coordinate_dtype(heatmaps))


def quadratic_subpixel_decode(heatmaps: torch.Tensor) -> torch.Tensor:
    """Argmax refined per axis by a parabola through the maximum and its two neighbours.

    Along axis k with ``a = h(m - e_k)``, ``b = h(m)``, ``c = h(m + e_k)`` the refined
    coordinate is ``m_k + 0.5 (a - c) / (a - 2b + c)``, clamped to ``m_k +- 0.5``. No
    refinement on an axis where the maximum lies on the border (a neighbour is missing) or
    the parabola is not strictly concave (``a - 2b + c`` not clearly negative, e.g. a plateau).

    Args:
        heatmaps: Tensor of shape (B, C, *spatial) with 1 to 3 spatial axes.

    Returns:
        Float tensor of shape (B, C, d) in array-index order (dtype as in
        :func:`argmax_decode`).

    Raises:
        ValueError: If ``heatmaps`` has fewer than three axes.
    """
    peak = argmax_index(heatmaps)  # (B, C, d) long
    spatial = heatmaps.shape[2:]
    d = len(spatial)
    dtype = coordinate_dtype(heatmaps)
    flat = heatmaps.flatten(2).to(dtype)  # (B, C, N)
    sizes = torch.tensor(spatial, device=heatmaps.device)
    strides = torch.tensor(row_major_strides(spatial), device=heatmaps.device)
    centre = (peak * strides).sum(-1, keepdim=True)  # (B, C, 1)
    inside = (peak > 0) & (peak < sizes - 1)  # (B, C, d): both neighbours exist
    step = torch.where(inside, strides, torch.zeros_like(strides))  # stay put at the border
    neighbours = torch.cat([centre - step, centre, centre + step], dim=-1)  # (B, C, 2d + 1)
    values = flat.gather(-1, neighbours)
    a, b, c = values[..., :d], values[..., d : d + 1], values[..., d + 1 :]
    curvature = a - 2 * b + c
    tolerance = 8 * torch.finfo(dtype).eps * b.abs().clamp_min(torch.finfo(dtype).tiny)
    refine = inside & (curvature < -tolerance)
    safe = torch.where(refine, curvature, -torch.ones_like(curvature))
    offset = (0.5 * (a - c) / safe).clamp(-0.5, 0.5)
    return peak.to(dtype) + torch.where(refine, offset, torch.zeros_like(offset))


def log_quadratic_subpixel_decode(heatmaps: torch.Tensor) -> torch.Tensor:
    """Argmax refined per axis by a parabola fitted to the LOG of the map (Gaussian fit).

    The log of a Gaussian is exactly quadratic, so on an axis-aligned Gaussian map of any
    sigma this recovers the centre exactly (up to rounding). Along axis k the parabola goes
    through ``log h`` at three consecutive pixels ``c - 1, c, c + 1`` on the line through the
    argmax ``m``, with ``c = m_k`` inside the map and ``c`` moved one pixel inward when ``m``
    lies on the border (a one-sided fit through ``m, m + 1, m + 2``, still exact for a
    Gaussian). The coordinate is ``c + 0.5 (a - b') / (a - 2b + b')`` with ``a, b, b'`` the
    three log values, clamped to the argmax pixel, ``m_k +- 0.5``.

    Guards: values are clamped to the smallest positive normal number before the log (zeros
    and negative values never give NaN or -inf); an axis is not refined (the argmax is kept)
    when it has fewer than three pixels or the log-parabola is not clearly concave (flat or
    constant maps, a one-hot peak on the border).

    Args:
        heatmaps: Non-negative maps (e.g. Gaussians or probabilities; for logits use
            :func:`quadratic_subpixel_decode`, which is the same fit on the log scale) of
            shape (B, C, *spatial) with 1 to 3 spatial axes.

    Returns:
        Float tensor of shape (B, C, d) in array-index order (dtype as in
        :func:`argmax_decode`), on the device of ``heatmaps``.

    Raises:
        ValueError: If ``heatmaps`` has fewer than three axes.
    """
    peak = argmax_index(heatmaps)  # (B, C, d) long
    spatial = heatmaps.shape[2:]
    d = len(spatial)
    dtype = coordinate_dtype(heatmaps)
    device = heatmaps.device
    flat = heatmaps.flatten(2).to(dtype)
    sizes = torch.tensor(spatial, device=device)
    strides = torch.tensor(row_major_strides(spatial), device=device)
    fits = sizes >= 3  # (d,): three pixels are needed for a parabola
    low = torch.ones_like(sizes)
    high = torch.where(fits, sizes - 2, low)
    centre = torch.where(fits, torch.minimum(torch.maximum(peak, low), high), peak)
    line_centre = (peak * strides).sum(-1, keepdim=True) + (centre - peak) * strides  # (B, C, d)
    step = torch.where(fits, strides, torch.zeros_like(strides))
    index = torch.cat([line_centre - step, line_centre, line_centre + step], dim=-1)
    info = torch.finfo(dtype)
    values = flat.gather(-1, index).clamp_min(info.tiny).log()  # (B, C, 3d), finite
    a, b, c = values[..., :d], values[..., d : 2 * d], values[..., 2 * d :]
    curvature = a - 2 * b + c
    scale = torch.maximum(a.abs(), torch.maximum(b.abs(), c.abs())).clamp_min(1.0)
    refine = fits & (curvature < -16 * info.eps * scale)
    safe = torch.where(refine, curvature, -torch.ones_like(curvature))
    vertex = centre.to(dtype) + 0.5 * (a - c) / safe
    peak_f = peak.to(dtype)
    refined = torch.minimum(torch.maximum(vertex, peak_f - 0.5), peak_f + 0.5)
    return torch.where(refine, refined, peak_f)
