"""Shared index arithmetic for the heatmap decoders: shape checks, argmax, strides, dtypes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def check_heatmaps(heatmaps: torch.Tensor) -> None:
    """Raise unless ``heatmaps`` has shape (B, C, *spatial) with at least one spatial axis."""
    if heatmaps.ndim < 3:
        raise ValueError(
            f"Heatmaps must have shape (B, C, *spatial); got {tuple(heatmaps.shape)}. "
            "Add the batch and channel axes (e.g. heatmaps[None, None])."
        )


def check_temperature(temperature: float) -> float:
    """Return ``temperature`` as a float, raising unless it is positive and finite."""
    value = float(temperature)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"Temperature must be a positive finite number; got {temperature!r}. "
            "Use e.g. 1.0 (plain softmax) or 10.0 (sharper weights)."
        )
    return value


def argmax_index(heatmaps: torch.Tensor) -> torch.Tensor:
    """Integer (B, C, d) index of each map's maximum (the first one in row-major order).

    Two stages, because ``torch.argmax`` over a whole 512 x 512 map is several times slower
    on CPU than ``amax``: the maximum of every row (last axis), the first row holding the
    largest of them, then the first maximum within that row. This is the same index as
    ``argmax`` over the flattened map (first occurrence on ties).
    """
    check_heatmaps(heatmaps)
    spatial = heatmaps.shape[2:]
    flat = heatmaps.flatten(2)  # (B, C, N)
    if len(spatial) == 1:
        flat_index = flat.argmax(dim=-1)
    else:
        rows = flat.unflatten(-1, (-1, spatial[-1]))  # (B, C, R, L)
        best_row = rows.amax(dim=-1).argmax(dim=-1)  # (B, C)
        row_values = rows.gather(2, best_row[..., None, None].expand(-1, -1, 1, spatial[-1]))
        flat_index = best_row * spatial[-1] + row_values[:, :, 0].argmax(dim=-1)
    return torch.stack(torch.unravel_index(flat_index, spatial), dim=-1)


def row_major_strides(spatial: Sequence[int]) -> list[int]:
    """Element strides of a contiguous array of shape ``spatial``."""
    strides = [1] * len(spatial)
    for k in range(len(spatial) - 2, -1, -1):
        strides[k] = strides[k + 1] * spatial[k + 1]
    return strides


def coordinate_dtype(heatmaps: torch.Tensor) -> torch.dtype:
    """float64 for float64 maps, else float32 (half-precision maps are decoded in float32)."""
    return torch.float64 if heatmaps.dtype == torch.float64 else torch.float32


def weighted_mean_index(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unnormalised first moments ``sum_x x w(x)`` and the mass ``sum_x w(x)`` of each map.

    One pass over the weights: a matrix product of every row (last axis) with
    ``[1, column index]`` gives each row's mass and column moment; the moments along the
    other axes follow from the (small) row masses. No (B, C, *spatial, d) coordinate grid is
    built. The caller divides the moments by the mass: normalising the weights first (e.g.
    ``torch.softmax`` over 512 x 512 float32 pixels) carries the rounding error of one long
    sum into every coordinate (0.05 px measured), whereas blocked sums here stay accurate.

    Args:
        weights: Non-negative weights of shape (B, C, *spatial).

    Returns:
        Moments of shape (B, C, d) and mass of shape (B, C), dtype and device of ``weights``.
    """
    spatial = weights.shape[2:]
    last = spatial[-1]
    # Indices relative to the map centre keep the moments small (less rounding in float32);
    # the centre times the mass is added back at the end.
    column = _centred_index(last, weights)
    basis = torch.stack([torch.ones_like(column), column], dim=-1)  # (L, 2)
    per_row = weights.reshape(*weights.shape[:2], -1, last) @ basis  # (B, C, R, 2)
    row_mass = per_row[..., 0].contiguous()
    mass = row_mass.sum(-1)
    row_mass = row_mass.reshape(*weights.shape[:2], *spatial[:-1])  # (B, C, *spatial[:-1])
    moments = []
    for axis in range(len(spatial) - 1):
        others = tuple(2 + k for k in range(len(spatial) - 1) if k != axis)
        marginal = row_mass.sum(dim=others) if others else row_mass  # (B, C, size)
        moments.append((marginal * _centred_index(marginal.shape[-1], weights)).sum(-1))
    moments.append(per_row[..., 1].contiguous().sum(-1))
    centre = torch.tensor([(s - 1) / 2 for s in spatial], device=weights.device)
    return torch.stack(moments, dim=-1) + centre.to(weights.dtype) * mass[..., None], mass


def _centred_index(size: int, like: torch.Tensor) -> torch.Tensor:
    """Indices 0..size-1 minus their mean, in the dtype and on the device of ``like``."""
    return torch.arange(size, device=like.device, dtype=like.dtype) - (size - 1) / 2
