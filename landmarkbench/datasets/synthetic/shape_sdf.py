"""Signed distances of simple solids on a voxel grid (mm), for rendering synthetic volumes.

Negative inside, positive outside; ``soft_fill`` turns a distance into a partial-volume
occupancy so surfaces land at sub-voxel positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def grid_mm(shape: Sequence[int], spacing: Sequence[float]) -> np.ndarray:
    """Voxel-centre coordinates in mm, shape (*shape, d), array-index order."""
    axes = [np.arange(n, dtype=np.float64) * s for n, s in zip(shape, spacing, strict=True)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)


def ellipsoid_sdf(points: np.ndarray, centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipsoid (exact for spheres)."""
    scaled = np.linalg.norm((points - centre) / radii, axis=-1)
    return (scaled - 1.0) * np.min(radii)


def capsule_sdf(
    points: np.ndarray, start: np.ndarray, end: np.ndarray, radius: float
) -> np.ndarray:
    """Exact signed distance to a capsule (a segment swept by a ball of ``radius``)."""
    axis = end - start
    t = np.clip(((points - start) @ axis) / float(axis @ axis), 0.0, 1.0)
    closest = start + t[..., None] * axis
    return np.linalg.norm(points - closest, axis=-1) - radius


def capsule_apex(start: np.ndarray, end: np.ndarray, radius: float) -> np.ndarray:
    """The capsule's surface point furthest along start -> end (its rounded tip)."""
    direction = (end - start) / np.linalg.norm(end - start)
    return end + radius * direction


def soft_fill(distance: np.ndarray, width: float) -> np.ndarray:
    """Occupancy in [0, 1] with a smooth edge of about ``width`` mm."""
    return 1.0 / (1.0 + np.exp(np.clip(distance / (0.25 * width), -50, 50)))
