"""Heatmap decoders: batched argmax and quadratic sub-pixel refinement, 2D and 3D."""

from __future__ import annotations

import torch


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
    return _argmax_index(heatmaps).to(_coordinate_dtype(heatmaps))


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
    peak = _argmax_index(heatmaps)  # (B, C, d) long
    spatial = heatmaps.shape[2:]
    d = len(spatial)
    dtype = _coordinate_dtype(heatmaps)
    flat = heatmaps.flatten(2).to(dtype)  # (B, C, N)
    sizes = torch.tensor(spatial, device=heatmaps.device)
    strides = torch.tensor(_row_major_strides(spatial), device=heatmaps.device)
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


def _argmax_index(heatmaps: torch.Tensor) -> torch.Tensor:
    """Integer (B, C, d) index of each map's maximum."""
    if heatmaps.ndim < 3:
        raise ValueError(
            f"Heatmaps must have shape (B, C, *spatial); got {tuple(heatmaps.shape)}. "
            "Add the batch and channel axes (e.g. heatmaps[None, None])."
        )
    flat_index = heatmaps.flatten(2).argmax(dim=-1)  # (B, C)
    return torch.stack(torch.unravel_index(flat_index, heatmaps.shape[2:]), dim=-1)


def _row_major_strides(spatial: torch.Size) -> list[int]:
    """Element strides of a contiguous array of shape ``spatial``."""
    strides = [1] * len(spatial)
    for k in range(len(spatial) - 2, -1, -1):
        strides[k] = strides[k + 1] * spatial[k + 1]
    return strides


def _coordinate_dtype(heatmaps: torch.Tensor) -> torch.dtype:
    return torch.float64 if heatmaps.dtype == torch.float64 else torch.float32
