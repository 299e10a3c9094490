"""Tests for landmarkbench.heatmaps.targets: separable Gaussian heatmaps."""

from __future__ import annotations

import math

import pytest
import torch

from landmarkbench.heatmaps.targets import gaussian_heatmaps, landmark_mask


def _brute_force(points: torch.Tensor, shape, sigma: torch.Tensor, gamma) -> torch.Tensor:
    """Full quadratic form exp(-1/2 (x - y)^T S^-1 (x - y)) with S = sigma^2 I, every pixel."""
    d = len(shape)
    grid = torch.stack(
        torch.meshgrid(*(torch.arange(n, dtype=points.dtype) for n in shape), indexing="ij"),
        dim=-1,
    ).reshape(-1, d)  # (P, d)
    diff = grid[None, None] - points[:, :, None, :]  # (B, C, P, d)
    inv_cov = (
        torch.eye(d, dtype=points.dtype) / sigma[None, :, None, None, None] ** 2
    )  # (1,C,1,d,d)
    quad = torch.einsum("bcpi,bcpij,bcpj->bcp", diff, inv_cov.expand(*diff.shape, d), diff)
    scale = (
        torch.ones_like(sigma) if gamma is None else gamma / ((2 * math.pi) ** (d / 2) * sigma**d)
    )
    maps = scale[None, :, None] * torch.exp(-0.5 * quad)
    return maps.reshape(*points.shape[:2], *shape)


@pytest.mark.parametrize("shape", [(20, 24), (10, 12, 14)])
@pytest.mark.parametrize("gamma", [None, 100.0])
def test_matches_brute_force_quadratic_form(shape, gamma):
    generator = torch.Generator().manual_seed(0)
    d = len(shape)
    points = torch.rand(2, 3, d, generator=generator, dtype=torch.float64)
    points = points * (torch.tensor(shape, dtype=torch.float64) - 1)
    sigma = torch.tensor([1.0, 2.5, 4.0], dtype=torch.float64)
    fast = gaussian_heatmaps(points, shape, sigma, gamma)
    assert fast.shape == (2, 3, *shape) and fast.dtype == torch.float64
    torch.testing.assert_close(fast, _brute_force(points, shape, sigma, gamma), atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(32, 40), (16, 18, 20)])
def test_peak_is_one_at_integer_landmark(shape):
    point = torch.tensor([[[s // 2 for s in shape]]], dtype=torch.float32)
    maps = gaussian_heatmaps(point, shape, 2.0)
    assert maps.max() == pytest.approx(1.0)
    assert maps[(0, 0, *(s // 2 for s in shape))] == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(48, 48), (32, 32, 32)])
def test_gamma_scaled_map_sums_to_gamma(shape):
    # Interior landmark, so truncation at the border is negligible; the sampled Gaussian's
    # sum equals its integral to high precision for sigma >= 1.
    point = torch.tensor([[[s / 2 - 0.3 for s in shape]]], dtype=torch.float64)
    sigma = 2.5
    maps = gaussian_heatmaps(point, shape, sigma, gamma=100.0)
    assert float(maps.sum()) == pytest.approx(100.0, rel=1e-6)
    peak = 100.0 / ((2 * math.pi) ** (len(shape) / 2) * sigma ** len(shape))
    assert float(maps.max()) <= peak


def test_nan_landmark_gives_zero_map_and_mask():
    points = torch.tensor([[[5.0, 6.0], [float("nan"), 3.0]], [[1.0, 1.0], [2.0, 2.0]]])
    maps = gaussian_heatmaps(points, (12, 12), torch.tensor([2.0, 3.0]), gamma=100.0)
    assert not torch.isnan(maps).any()
    assert (maps[0, 1] == 0).all()
    assert (maps[[0, 1, 1], [0, 0, 1]].amax(dim=(-2, -1)) > 0).all()
    expected = torch.tensor([[True, False], [True, True]])
    assert torch.equal(landmark_mask(points), expected)


def test_follows_device_and_dtype_of_points():
    points = torch.full((1, 1, 2), 3.0, dtype=torch.float32)
    assert gaussian_heatmaps(points, (8, 8), 1.5).dtype == torch.float32
    assert gaussian_heatmaps(points.double(), (8, 8), 1.5).dtype == torch.float64
    assert gaussian_heatmaps(points.long(), (8, 8), 1.5).is_floating_point()


def test_sigma_is_differentiable():
    sigma = torch.tensor([2.0, 3.0], requires_grad=True)
    points = torch.tensor([[[8.2, 7.1], [4.0, 9.5]]])
    gaussian_heatmaps(points, (16, 16), sigma, gamma=100.0).square().sum().backward()
    assert sigma.grad is not None and torch.isfinite(sigma.grad).all()
    assert (sigma.grad != 0).all()


def test_rejects_bad_inputs():
    points = torch.zeros(1, 2, 2)
    with pytest.raises(ValueError, match=r"\(B, C, 3\)"):
        gaussian_heatmaps(points, (4, 4, 4), 1.0)
    with pytest.raises(ValueError, match="broadcastable"):
        gaussian_heatmaps(points, (4, 4), torch.ones(3))
    with pytest.raises(ValueError, match="positive"):
        gaussian_heatmaps(points, (4, 4), torch.tensor([1.0, 0.0]))
