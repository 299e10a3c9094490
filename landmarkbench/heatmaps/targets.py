"""Heatmap targets (landmark -> training map): one import point for every target generator.

The generators live in small modules: ``gaussian`` (separable and windowed rotated Gaussians),
``laplacian``, ``onehot``, ``adaptive`` (learnable sigma and rotation), ``covariance``
(rotation convention, covariance under an affine) and ``points`` (mask, argument checks).
"""

from __future__ import annotations

from landmarkbench.heatmaps.adaptive import AdaptiveGaussianHeatmaps
from landmarkbench.heatmaps.covariance import (
    covariance_matrix,
    rotation_matrix,
    transform_covariance,
)
from landmarkbench.heatmaps.gaussian import anisotropic_gaussian_heatmaps, gaussian_heatmaps
from landmarkbench.heatmaps.laplacian import laplacian_heatmaps
from landmarkbench.heatmaps.onehot import (
    IGNORE_INDEX,
    OneHotTargets,
    nearest_pixel,
    onehot_heatmaps,
    onehot_indices,
)
from landmarkbench.heatmaps.points import landmark_mask

__all__ = [
    "IGNORE_INDEX",
    "AdaptiveGaussianHeatmaps",
    "OneHotTargets",
    "anisotropic_gaussian_heatmaps",
    "covariance_matrix",
    "gaussian_heatmaps",
    "landmark_mask",
    "laplacian_heatmaps",
    "nearest_pixel",
    "onehot_heatmaps",
    "onehot_indices",
    "rotation_matrix",
    "transform_covariance",
]
