"""Affine augmentation moves landmarks exactly as it moves the image."""

from __future__ import annotations

import pytest
import torch

from landmarkbench.heatmaps.targets import gaussian_heatmaps
from landmarkbench.training.augment import AffineAugmentation, random_affine


def _centre_of_mass(image: torch.Tensor) -> torch.Tensor:
    grids = torch.meshgrid(
        *[torch.arange(s, dtype=torch.float64) for s in image.shape], indexing="ij"
    )
    weights = image.double().clamp_min(0)
    return torch.stack([(g * weights).sum() / weights.sum() for g in grids])


@pytest.mark.parametrize("shape", [(48, 32), (40, 56), (24, 32, 20)])
def test_blob_follows_its_landmark(shape: tuple[int, ...]) -> None:
    generator = torch.Generator().manual_seed(3)
    centre = torch.tensor([s * 0.45 for s in shape], dtype=torch.float32)
    points = centre.view(1, 1, -1).repeat(4, 1, 1)
    images = gaussian_heatmaps(points, shape, 2.0)  # (4, 1, *shape)
    aug = AffineAugmentation(rotation_deg=15, scale=0.1, translation_px=4, intensity=0.0)
    warped, moved = random_affine(images, points, aug, generator)
    assert warped.shape == images.shape and moved.shape == points.shape
    for k in range(4):
        found = _centre_of_mass(warped[k, 0])
        assert torch.allclose(found, moved[k, 0].double(), atol=0.05), (found, moved[k, 0])
    # The transforms differ between samples.
    assert not torch.allclose(moved[0], moved[1])


def test_nan_landmarks_stay_nan() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.zeros(2, 1, 32, 32)
    points = torch.tensor([[[10.0, 12.0], [float("nan"), float("nan")]]]).repeat(2, 1, 1)
    _, moved = random_affine(images, points, AffineAugmentation(), generator)
    assert torch.isnan(moved[:, 1]).all() and torch.isfinite(moved[:, 0]).all()
