"""Gaussian targets written into a reused buffer (``out=``) equal the allocating path bit for
bit, land in the buffer itself, and the training objective reuses one buffer across batches
with the same loss as the reference formula."""

from __future__ import annotations

import pytest
import torch

from landmarkbench.heatmaps.gaussian import anisotropic_gaussian_heatmaps, gaussian_heatmaps
from landmarkbench.methods.unet_heatmap import SubpixelHeatmapUNet
from landmarkbench.training.objectives import HeatmapObjective


def _points(batch: int, channels: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    points = torch.rand(batch, channels, len(shape), generator=generator) * (shape[0] - 1)
    points[0, 0] = float("nan")  # a missing landmark: an all-zero map
    points[-1, -1, 0] = -0.4  # just outside the border
    return points


@pytest.mark.parametrize("shape", [(24, 20), (10, 12, 14), (30,)])
@pytest.mark.parametrize("gamma", [None, 2.0])
def test_isotropic_out_equals_the_allocating_path(shape, gamma):
    points = _points(3, 4, shape)
    sigma = torch.tensor([1.0, 2.0, 3.0, 1.5])
    expected = gaussian_heatmaps(points, shape, sigma, gamma)
    buffer = torch.full_like(expected, 5.0)  # stale content must be overwritten
    result = gaussian_heatmaps(points, shape, sigma, gamma, out=buffer)
    assert result.data_ptr() == buffer.data_ptr()
    assert torch.equal(result, expected)


@pytest.mark.parametrize("angles", [None, 0.0, 0.7])
def test_anisotropic_out_equals_the_allocating_path(angles):
    points = _points(2, 3, (26, 22))
    sigma = torch.tensor([[2.0, 4.0]])
    expected = anisotropic_gaussian_heatmaps(points, (26, 22), sigma, angles)
    buffer = torch.full_like(expected, 5.0)
    result = anisotropic_gaussian_heatmaps(points, (26, 22), sigma, angles, out=buffer)
    assert result.data_ptr() == buffer.data_ptr()
    assert torch.equal(result, expected)


def test_one_buffer_serves_every_batch():
    buffer = torch.empty(2, 3, 16, 16)
    pointer = buffer.data_ptr()
    for seed in range(3):
        points = _points(2, 3, (16, 16), seed)
        result = gaussian_heatmaps(points, (16, 16), 2.0, out=buffer)
        assert result.data_ptr() == pointer
        assert torch.equal(result, gaussian_heatmaps(points, (16, 16), 2.0))


def test_a_buffer_that_does_not_fit_is_refused():
    points = _points(2, 3, (16, 16))
    with pytest.raises(ValueError, match="shape"):
        gaussian_heatmaps(points, (16, 16), 2.0, out=torch.empty(2, 3, 16, 15))
    with pytest.raises(ValueError, match="dtype"):
        gaussian_heatmaps(points, (16, 16), 2.0, out=torch.empty(2, 3, 16, 16).double())
    with pytest.raises(ValueError, match="contiguous"):
        gaussian_heatmaps(points, (16, 16), 2.0, out=torch.empty(2, 3, 16, 16).transpose(2, 3))
    sigma = torch.tensor(2.0, requires_grad=True)
    with pytest.raises(ValueError, match="grad"):
        gaussian_heatmaps(points, (16, 16), sigma, out=torch.empty(2, 3, 16, 16))


def test_objective_reuses_its_target_buffer_with_unchanged_losses():
    method = SubpixelHeatmapUNet({"foreground_weight": 5.0}, num_landmarks=3, ndim=2)
    objective = HeatmapObjective("gaussian", method.config, 3, 2)
    config = method.config
    pointers = set()
    for seed, batch in enumerate((2, 2, 1, 2)):  # an epoch's smaller last batch included
        points = _points(batch, 3, (20, 20), seed).nan_to_num(4.0)[:, :, None]
        maps = torch.rand(batch, 3, 20, 20, generator=torch.Generator().manual_seed(seed))
        maps.requires_grad_(True)
        loss = objective(maps, points)
        loss.backward()
        pointers.add(objective._target_buffer.data_ptr())
        target = config.heatmap_peak * gaussian_heatmaps(points[:, :, 0], (20, 20), config.sigma_px)
        weight = (1.0 + 5.0 * target / config.heatmap_peak) / 6.0
        reference = ((maps.detach() - target).pow(2) * weight).flatten(2).sum(-1).mean()
        assert torch.equal(loss.detach(), reference)
        assert maps.grad is not None and torch.isfinite(maps.grad).all()
    assert len(pointers) == 1
