"""Tests for landmarkbench.heatmaps.laplacian: 2D Laplacian targets."""

from __future__ import annotations

import math

import pytest
import torch

from landmarkbench.heatmaps.covariance import covariance_matrix
from landmarkbench.heatmaps.laplacian import laplacian_heatmaps


def _brute_force(points, shape, sigma, angle, gamma):
    grid = torch.stack(
        torch.meshgrid(*(torch.arange(n, dtype=torch.float64) for n in shape), indexing="ij"), -1
    )
    cov = covariance_matrix(sigma, torch.tensor(angle, dtype=torch.float64))
    diff = grid - points
    quad = torch.einsum("...i,ij,...j->...", diff, torch.linalg.inv(cov), diff)
    scale = 1.0 if gamma is None else gamma / (2 * math.pi / 3 * math.sqrt(torch.det(cov)))
    return scale * torch.exp(-torch.sqrt(3 * quad))


@pytest.mark.parametrize("gamma", [None, 10.0])
@pytest.mark.parametrize("where", [(12.3, 9.8), (0.0, 0.0), (23.0, 31.0), (-2.0, 15.0)])
def test_matches_brute_force_inside_border_and_outside(gamma, where):
    sigma = torch.tensor([1.5, 3.0], dtype=torch.float64)
    points = torch.tensor([[where, [float("nan"), 1.0]]], dtype=torch.float64)
    maps = laplacian_heatmaps(points, (24, 32), sigma[None], 0.6, gamma, window=None)
    expected = _brute_force(points[0, 0], (24, 32), sigma, 0.6, gamma)
    torch.testing.assert_close(maps[0, 0], expected, atol=1e-12, rtol=0)
    assert (maps[0, 1] == 0).all() and not torch.isnan(maps).any()
    windowed = laplacian_heatmaps(points, (24, 32), sigma[None], 0.6, gamma)
    bound = (1.0 if gamma is None else float(expected.max())) * math.exp(-math.sqrt(3) * 8)
    assert (windowed - maps).abs().max() <= bound + 1e-15


def test_gamma_map_sums_to_about_gamma():
    point = torch.tensor([[[40.3, 39.6]]], dtype=torch.float64)
    maps = laplacian_heatmaps(point, (81, 81), torch.tensor([[3.0, 4.0]]), 0.3, gamma=100.0)
    assert float(maps.sum()) == pytest.approx(100.0, rel=1e-2)


def test_gradient_is_finite_at_integer_landmark():
    points = torch.tensor([[[5.0, 5.0]]], dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor([[2.0, 2.5]], dtype=torch.float64, requires_grad=True)
    laplacian_heatmaps(points, (11, 11), sigma, 0.2).sum().backward()
    assert torch.isfinite(points.grad).all() and torch.isfinite(sigma.grad).all()


def test_rejects_3d():
    with pytest.raises(ValueError, match="2D"):
        laplacian_heatmaps(torch.zeros(1, 1, 3), (4, 4, 4), 1.0)
