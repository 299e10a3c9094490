"""Gaussian heatmap targets: separable when axis-aligned, windowed when rotated, 2D and 3D.

``g(x) = s * exp(-1/2 (x - y)^T S^-1 (x - y))`` on the pixel-centre grid (array-index order),
``S = R(theta) diag(sigma^2) R(theta)^T`` (rotation convention: ``covariance.py``), with
``s = 1`` (peak 1) or ``s = gamma / ((2 pi)^(d/2) sqrt(det S))`` (the continuous map integrates
to gamma; the pixel sum is gamma up to truncation at the border). Missing (NaN) landmarks get
all-zero maps; ``landmark_mask`` gives the (B, C) mask that losses use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from landmarkbench.heatmaps.covariance import rotation_matrix
from landmarkbench.heatmaps.points import (
    angles_per_landmark,
    checked_points,
    finite_points,
    sigma_per_axis,
)
from landmarkbench.heatmaps.window import box_half_widths, evaluate_in_boxes, mahalanobis_squared

DEFAULT_GAUSSIAN_WINDOW = 5.0
# Keeps products of flushed profiles clear of the subnormal range even after a scale >= 1e-4.
_SUBNORMAL_MARGIN = 1e4


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
    (the discrete sum is ``gamma`` up to truncation at the border). Exact on every pixel except
    that values below ~1e-8 of the peak are flushed to 0 (to avoid slow subnormal arithmetic).
    The result is differentiable with respect to ``points`` and ``sigma`` (learnable sigma).

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
    points, shape = checked_points(points, shape)
    batch, channels, ndim = points.shape
    sigma_t = torch.as_tensor(sigma, device=points.device, dtype=points.dtype)
    try:
        sigma_bc = torch.broadcast_to(sigma_t, (batch, channels))
    except RuntimeError as error:
        raise ValueError(
            f"Sigma must be a number or broadcastable to (B, C) = ({batch}, {channels}); got "
            f"shape {tuple(sigma_t.shape)}. Pass one sigma per landmark, shape ({channels},)."
        ) from error
    sigma_bcd = sigma_per_axis(sigma_bc[..., None].expand(batch, channels, ndim), points)
    return _separable_gaussian(points, shape, sigma_bcd, gamma)


def anisotropic_gaussian_heatmaps(
    points: torch.Tensor,
    shape: Sequence[int],
    sigma: float | torch.Tensor,
    angles: float | torch.Tensor | None = None,
    gamma: float | None = None,
    window: float | None = DEFAULT_GAUSSIAN_WINDOW,
) -> torch.Tensor:
    """Anisotropic, optionally rotated Gaussian heatmaps, per-landmark sigma and angles.

    Axis-aligned maps (``angles`` None, or all zero and not requiring grad) take the
    separable path (exact up to values below ~1e-8 of the peak, flushed to 0). Rotated maps
    are evaluated only inside the bounding box of the ellipsoid of Mahalanobis radius
    ``window`` (k) around each landmark (``half-width_a = ceil(k sqrt(S_aa))`` <=
    ``ceil(k max(sigma))``); values outside the box are exactly 0, so the absolute error is at
    most ``s * exp(-k^2 / 2)`` (3.7e-6 for the default k = 5 and s = 1). ``window=None``
    evaluates every pixel. Differentiable with respect to points, sigma and angles.

    Args:
        points: Landmarks of shape (B, C, d), d in {2, 3}; NaN marks a missing landmark.
        shape: Spatial shape of the maps, length d.
        sigma: Pixels along the principal axes: a number, (C,) (isotropic per landmark), or
            broadcastable to (B, C, d), e.g. (C, d) or (1, d).
        angles: Radians (convention in ``landmarkbench.heatmaps.covariance``): 2D a number,
            (C,) or (B, C); 3D broadcastable to (B, C, 3). None for axis-aligned maps.
        gamma: Target sum of each map, or None for peak 1.
        window: k, the box size in standard deviations, or None for the whole image.

    Returns:
        Tensor of shape (B, C, *shape) on the device and (floating) dtype of ``points``.

    Raises:
        ValueError: If shapes disagree, sigma is not positive or window is not positive.
    """
    points, shape = checked_points(points, shape)
    sigma_bcd = sigma_per_axis(sigma, points)
    if angles is None:
        return _separable_gaussian(points, shape, sigma_bcd, gamma)
    angles_t = angles_per_landmark(angles, points)
    if not angles_t.requires_grad and not bool(angles_t.any()):
        return _separable_gaussian(points, shape, sigma_bcd, gamma)
    rotation = rotation_matrix(angles_t if len(shape) == 3 else angles_t[..., 0], len(shape))
    safe, valid = finite_points(points)
    half_widths = box_half_widths(
        torch.einsum("...ij,...j->...i", rotation.square(), sigma_bcd.square()), shape, window
    )
    scale = _scale(sigma_bcd, valid, gamma, 1.0 / (2 * math.pi) ** (len(shape) / 2))
    trailing = (1,) * len(shape)

    def values(offsets: list[torch.Tensor]) -> torch.Tensor:
        quadratic = mahalanobis_squared(offsets, sigma_bcd, rotation)
        return scale.reshape(*scale.shape, *trailing) * torch.exp(-0.5 * quadratic)

    return evaluate_in_boxes(safe, shape, half_widths, values)


def _separable_gaussian(
    points: torch.Tensor,
    shape: tuple[int, ...],
    sigma_bcd: torch.Tensor,
    gamma: float | None,
) -> torch.Tensor:
    """Axis-aligned Gaussian as an outer product of 1D profiles: one pass over the output.

    The scale and the validity mask are folded into the first (shortest) profile, so the full
    map is written once, by the last broadcast multiply.
    """
    safe, valid = finite_points(points)
    ndim = len(shape)
    scale = _scale(sigma_bcd, valid, gamma, 1.0 / (2 * math.pi) ** (ndim / 2))
    # Products of d profile values below tiny^(1/d) would be subnormal, and subnormal
    # arithmetic is ~100x slower on CPUs; such values (< 1e-8 of the peak even in float32 3D)
    # are set to exactly 0 instead.
    cutoff = _SUBNORMAL_MARGIN * torch.finfo(points.dtype).tiny ** (1 / ndim)
    heatmaps = None
    for axis, size in enumerate(shape):
        coords = torch.arange(size, device=points.device, dtype=points.dtype)
        offsets = (coords - safe[..., axis, None]) / sigma_bcd[..., axis, None]
        profile = torch.exp(-0.5 * offsets.square())  # (B, C, size)
        profile = profile.masked_fill(profile < cutoff, 0.0)
        if axis == 0:
            profile = profile * scale[..., None]
        view = (*profile.shape[:2], *(size if k == axis else 1 for k in range(ndim)))
        profile = profile.reshape(view)
        heatmaps = profile if heatmaps is None else heatmaps * profile
    return heatmaps


def _scale(
    sigma_bcd: torch.Tensor, valid: torch.Tensor, gamma: float | None, constant: float
) -> torch.Tensor:
    """Per-map factor s (B, C): 0 for missing landmarks, 1 or ``gamma * constant / prod sigma``.

    ``prod sigma = sqrt(det S)`` for any rotation.
    """
    scale = valid.to(sigma_bcd.dtype)
    if gamma is not None:
        scale = scale * (gamma * constant) / sigma_bcd.prod(dim=-1)
    return scale
