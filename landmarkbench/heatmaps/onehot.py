"""One-hot heatmap targets: a single 1 at the landmark's nearest pixel, 2D and 3D.

Rounding rule: ``floor(x + 0.5)`` per axis, so ties go UP (2.5 -> 3, -0.5 -> 0); 2.49 -> 2.
The reference implementation truncates with ``int()``, a -0.5 px bias per axis, and
``torch.round`` rounds half to even (2.5 -> 2). A landmark that is missing (non-finite) or whose
rounded pixel lies outside the image has an all-zero map, mask False and flat index
``IGNORE_INDEX`` (-100, the default ``ignore_index`` of ``torch.nn.functional.cross_entropy``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from landmarkbench.heatmaps.points import checked_points, finite_points

IGNORE_INDEX = -100


class OneHotTargets(NamedTuple):
    """One-hot maps with the matching flat indices and mask.

    Attributes:
        heatmaps: Shape (B, C, *shape), dtype of the points, one 1 per valid landmark.
        flat_index: Long (B, C): row-major index of the landmark pixel, ``IGNORE_INDEX`` where
            ``mask`` is False. With logits (B, C, *shape) the spatial-softmax NLL is
            ``cross_entropy(logits.flatten(2).flatten(0, 1), flat_index.flatten())``.
        mask: Bool (B, C): landmark present and inside the image.
    """

    heatmaps: torch.Tensor
    flat_index: torch.Tensor
    mask: torch.Tensor


def nearest_pixel(points: torch.Tensor) -> torch.Tensor:
    """Nearest pixel index per coordinate with ties rounded up: ``floor(x + 0.5)``.

    Args:
        points: Coordinates of any shape; must be finite.

    Returns:
        Long tensor of the same shape.
    """
    return torch.floor(points + 0.5).long()


def onehot_indices(points: torch.Tensor, shape: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat pixel index and mask of each landmark's one-hot target, without building maps.

    Args:
        points: Landmarks of shape (B, C, d); NaN marks a missing landmark.
        shape: Spatial shape of the maps, length d.

    Returns:
        ``(flat_index, mask)``: long (B, C) row-major indices (``IGNORE_INDEX`` where the mask is
        False) and bool (B, C), True when the landmark is present and rounds inside the image.

    Raises:
        ValueError: If the point shape does not match the map dimensionality.
    """
    points, shape = checked_points(points, shape)
    safe, valid = finite_points(points)
    sizes = torch.tensor(shape, device=points.device)
    # Clamp before the cast: huge coordinates must not overflow the integer conversion.
    limit = float(max(shape) + 1)
    pixel = nearest_pixel(safe.detach().clamp(-limit, limit))  # (B, C, d)
    inside = ((pixel >= 0) & (pixel < sizes)).all(dim=-1)
    mask = valid & inside
    strides = torch.tensor(
        [math.prod(shape[axis + 1 :]) for axis in range(len(shape))], device=points.device
    )
    flat_index = (pixel * strides).sum(dim=-1)
    flat_index = torch.where(mask, flat_index, torch.full_like(flat_index, IGNORE_INDEX))
    return flat_index, mask


def onehot_heatmaps(points: torch.Tensor, shape: Sequence[int]) -> OneHotTargets:
    """One-hot targets: a single 1 at the rounded landmark pixel (rule in the module docstring).

    Args:
        points: Landmarks of shape (B, C, d), d in {2, 3}; NaN marks a missing landmark.
        shape: Spatial shape of the maps, length d.

    Returns:
        ``OneHotTargets(heatmaps, flat_index, mask)`` on the device of ``points``; the maps have
        the (floating) dtype of ``points``.

    Raises:
        ValueError: If the point shape does not match the map dimensionality.
    """
    points, shape = checked_points(points, shape)
    flat_index, mask = onehot_indices(points, shape)
    batch, channels = points.shape[:2]
    maps = torch.zeros(batch, channels, math.prod(shape), device=points.device, dtype=points.dtype)
    maps.scatter_(2, flat_index.clamp(min=0)[..., None], mask[..., None].to(points.dtype))
    return OneHotTargets(maps.reshape(batch, channels, *shape), flat_index, mask)
