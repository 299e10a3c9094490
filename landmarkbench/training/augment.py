"""Random affine augmentation of image batches together with their landmarks (2D and 3D).

The image is resampled with ``affine_grid``/``grid_sample`` (align_corners=False) and the
landmarks are moved by the exact inverse map, so a landmark stays on the pixel it marked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AffineAugmentation:
    """Ranges of the random affine transform (uniform in +-range).

    Attributes:
        rotation_deg: In-plane rotation (2D), rotation about axis 0 (3D).
        scale: Relative isotropic scale change.
        translation_px: Shift in pixels of the network grid.
        intensity: Relative random gain; an offset of the same size is also added.
    """

    rotation_deg: float = 8.0
    scale: float = 0.08
    translation_px: float = 6.0
    intensity: float = 0.1


def _to_normalised(points: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    return (2.0 * points + 1.0) / shape - 1.0


def _from_normalised(coords: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    return ((coords + 1.0) * shape - 1.0) / 2.0


def _random_linear(batch: int, ndim: int, aug: AffineAugmentation, gen: torch.Generator):
    """Rotation x scale matrices (B, d, d) in array-axis order."""
    angle = (torch.rand(batch, generator=gen) * 2 - 1) * math.radians(aug.rotation_deg)
    scale = 1.0 + (torch.rand(batch, generator=gen) * 2 - 1) * aug.scale
    cos, sin = torch.cos(angle), torch.sin(angle)
    linear = torch.eye(ndim).repeat(batch, 1, 1)
    # Rotate the last two axes (row/col in 2D, the in-slice plane in 3D).
    linear[:, -2, -2], linear[:, -2, -1] = cos, -sin
    linear[:, -1, -2], linear[:, -1, -1] = sin, cos
    return linear * scale[:, None, None]


def random_affine(
    images: torch.Tensor,
    points: torch.Tensor,
    aug: AffineAugmentation,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply one random affine transform per sample to images (B, 1, *S) and points (B, C, d).

    Points that leave the image stay as coordinates outside it (their heatmap is cut);
    NaN points stay NaN.

    Returns:
        The transformed images and points (same shapes, same device).
    """
    batch, ndim = images.shape[0], images.ndim - 2
    device = images.device
    shape = torch.tensor(images.shape[2:], dtype=torch.float32)
    linear = _random_linear(batch, ndim, aug, generator)
    shift_px = (torch.rand(batch, ndim, generator=generator) * 2 - 1) * aug.translation_px
    shift = 2.0 * shift_px / shape
    # Rotate in pixel units, not normalised units, so non-square grids are not sheared.
    half = torch.diag(shape / 2.0)
    linear = torch.linalg.inv(half) @ linear @ half
    # grid_sample maps output coordinates u_out to input u_in = A u_out + t; the grid's last
    # dimension is in (x, y[, z]) order, i.e. array axes reversed.
    flip = torch.eye(ndim).flip(0)
    theta = torch.cat([flip @ linear @ flip, (flip @ shift[..., None])], dim=2).to(device)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(
        images, grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    gain = 1.0 + (torch.rand(batch, generator=generator) * 2 - 1) * aug.intensity
    offset = (torch.rand(batch, generator=generator) * 2 - 1) * aug.intensity
    view = (batch,) + (1,) * (images.ndim - 1)
    warped = warped * gain.to(device).view(view) + offset.to(device).view(view)
    # Landmarks: u_out = A^-1 (u_in - t).
    u_in = _to_normalised(points.cpu().float(), shape)
    inverse = torch.linalg.inv(linear)
    u_out = torch.einsum("bij,bcj->bci", inverse, u_in - shift[:, None, :])
    return warped, _from_normalised(u_out, shape).to(points.device, points.dtype)
