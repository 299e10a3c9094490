"""Heatmap targets: separable isotropic Gaussian maps for batches of 2D or 3D landmarks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def landmark_mask(points: torch.Tensor) -> torch.Tensor:
    """Which landmarks are present (no NaN coordinate).

    Args:
        points: Landmarks of shape (B, C, d).

    Returns:
        Bool tensor of shape (B, C): True for valid landmarks.
    """
    return ~torch.isnan(points).any(dim=-1)


def gaussian_heatmaps(
    points: torch.Tensor,
    shape: Sequence[int],
    sigma: float | torch.Tensor,
    gamma: float | None = None,
) -> torch.Tensor:
    """Isotropic Gaussian heatmaps, built as outer products of 1D Gaussians (separable).

    ``g(x) = s * exp(-||x - y||^2 / (2 sigma^2))`` on the pixel-centre grid (array index
    order), with ``s = 1`` (peak 1) when ``gamma`` is None, else
    ``s = gamma / ((2 pi)^(d/2) sigma^d)`` so that the continuous map integrates to ``gamma``
    (the discrete sum is ``gamma`` up to truncation at the border). The result is differentiable
    with respect to ``points`` and ``sigma`` (learnable sigma).

    Args:
        points: Landmarks of shape (B, C, d) in pixel indices; NaN marks a missing landmark,
            whose map is all zeros.
        shape: Spatial shape of the maps, length d.
        sigma: Standard deviation in pixels: a float, or a tensor broadcastable to (B, C)
            (typically (C,), one per landmark).
        gamma: Target sum of each map, or None for peak 1.

    Returns:
        Tensor of shape (B, C, *shape) on the device and (floating) dtype of ``points``.

    Raises:
        ValueError: If the shapes disagree or sigma is not positive.
    """
    shape = tuple(int(s) for s in shape)
    if points.ndim != 3 or points.shape[-1] != len(shape):
        raise ValueError(
            f"Points must have shape (B, C, {len(shape)}) for maps of shape {shape}; got "
            f"{tuple(points.shape)}. Give one coordinate per spatial axis."
        )
    if not points.is_floating_point():
        points = points.to(torch.get_default_dtype())
    sigma_bc = _sigma_per_landmark(sigma, points)
    valid = landmark_mask(points)
    safe_points = torch.where(valid[..., None], points, torch.zeros_like(points))
    d = len(shape)
    heatmaps = None
    for axis, size in enumerate(shape):
        coords = torch.arange(size, device=points.device, dtype=points.dtype)
        offsets = (coords - safe_points[..., axis, None]) / sigma_bc[..., None]
        profile = torch.exp(-0.5 * offsets**2)  # (B, C, size)
        view = (*profile.shape[:2], *(size if k == axis else 1 for k in range(d)))
        profile = profile.reshape(view)
        heatmaps = profile if heatmaps is None else heatmaps * profile
    scale = valid.to(points.dtype)
    if gamma is not None:
        scale = scale * gamma / ((2 * math.pi) ** (d / 2) * sigma_bc**d)
    return heatmaps * scale.reshape(*scale.shape, *(1,) * d)


def _sigma_per_landmark(sigma: float | torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Sigma as a (B, C) tensor on the device and dtype of ``points``, checked positive."""
    batch, channels = points.shape[:2]
    sigma_t = torch.as_tensor(sigma, device=points.device, dtype=points.dtype)
    try:
        sigma_bc = torch.broadcast_to(sigma_t, (batch, channels))
    except RuntimeError as error:
        raise ValueError(
            f"Sigma must be a number or broadcastable to (B, C) = ({batch}, {channels}); got "
            f"shape {tuple(sigma_t.shape)}. Pass one sigma per landmark, shape ({channels},)."
        ) from error
    if bool((sigma_bc.detach() <= 0).any()):
        raise ValueError(
            f"Sigma must be positive (pixels); got minimum {float(sigma_bc.min())}. "
            "Use a sigma of at least about 1 pixel."
        )
    return sigma_bc
