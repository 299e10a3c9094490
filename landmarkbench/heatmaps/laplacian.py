"""Laplacian heatmap targets (2D): a sharper peak and heavier tails than the Gaussian."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from landmarkbench.heatmaps.covariance import rotation_matrix
from landmarkbench.heatmaps.gaussian import log_map_scale
from landmarkbench.heatmaps.points import (
    angles_per_landmark,
    checked_points,
    finite_points,
    sigma_per_axis,
)
from landmarkbench.heatmaps.window import (
    box_half_widths,
    evaluate_in_boxes,
    negative_quadratic_form,
)

DEFAULT_LAPLACIAN_WINDOW = 8.0


def laplacian_heatmaps(
    points: torch.Tensor,
    shape: Sequence[int],
    sigma: float | torch.Tensor,
    angles: float | torch.Tensor | None = None,
    gamma: float | None = None,
    window: float | None = DEFAULT_LAPLACIAN_WINDOW,
) -> torch.Tensor:
    """Laplacian heatmaps ``s * exp(-sqrt(3 (x - y)^T S^-1 (x - y)))`` in 2D.

    ``S = R(theta) diag(sigma^2) R(theta)^T`` as for the Gaussian. ``s = 1`` (peak 1) or
    ``s = gamma / ((2 pi / 3) sqrt(det S))`` (the continuous map integrates to gamma). Values
    are computed in the box of Mahalanobis radius ``window`` (k) around each landmark and are
    exactly 0 outside it: the absolute error is at most ``s * exp(-sqrt(3) k)`` (9.6e-7 for the
    default k = 8). The gradient of the cusp at the landmark is taken as 0, so no NaN appears.

    Args:
        points: Landmarks of shape (B, C, 2); NaN marks a missing landmark (all-zero map).
        shape: Spatial shape (H, W).
        sigma: Pixels: a number, (C,), or broadcastable to (B, C, 2), e.g. (C, 2) or (1, 2).
        angles: Radians, a number, (C,) or (B, C); None for axis-aligned.
        gamma: Target sum of each map, or None for peak 1.
        window: k, the box size in standard deviations, or None for the whole image.

    Returns:
        Tensor of shape (B, C, H, W) on the device and (floating) dtype of ``points``.

    Raises:
        ValueError: If the maps are not 2D, the shapes disagree, or sigma or gamma is not
            positive.
    """
    if len(shape) != 2:
        raise ValueError(
            f"Laplacian heatmaps are defined in 2D; got map shape {tuple(shape)}. Use "
            "anisotropic_gaussian_heatmaps for 3D targets."
        )
    points, shape = checked_points(points, shape)
    sigma_bcd = sigma_per_axis(sigma, points)
    angles_t = angles_per_landmark(0.0 if angles is None else angles, points)[..., 0]
    rotation = rotation_matrix(angles_t, 2)
    safe, valid = finite_points(points)
    half_widths = box_half_widths(sigma_bcd, rotation, shape, window)
    log_scale = log_map_scale(sigma_bcd, valid, gamma, 2 * math.pi / 3)[..., None, None]

    def values(offsets: list[torch.Tensor]) -> torch.Tensor:
        quadratic = negative_quadratic_form(offsets, sigma_bcd, rotation, 3.0).neg()
        positive = quadratic > 0
        # sqrt has an infinite derivative at 0: route 0 through a constant branch.
        distance = torch.where(positive, torch.where(positive, quadratic, 1.0).sqrt(), 0.0)
        return (log_scale - distance).exp()

    return evaluate_in_boxes(safe, shape, half_widths, values)
