"""Tests for landmarkbench.heatmaps.adaptive: learnable sigma and rotation."""

from __future__ import annotations

import math

import pytest
import torch

from landmarkbench.heatmaps.adaptive import AdaptiveGaussianHeatmaps
from landmarkbench.heatmaps.gaussian import anisotropic_gaussian_heatmaps


@pytest.mark.parametrize(
    ("shape", "points", "sigma", "angles"),
    [
        ((7, 8), [[[3.3, 4.2], [0.2, 6.9]]], [[1.3, 1.9], [1.1, 1.7]], [0.3, -0.6]),
        ((5, 6, 5), [[[2.2, 3.1, 1.8]]], [[1.2, 1.6, 1.1]], [[0.3, -0.2, 0.5]]),
    ],
)
def test_gradcheck_points_sigma_angles(shape, points, sigma, angles):
    # window 2.3 keeps the boxes smaller than the maps, so clipping is exercised as well.
    def maps(p, s, a):
        return anisotropic_gaussian_heatmaps(p, shape, s, a, gamma=3.0, window=2.3)

    inputs = tuple(
        torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (points, sigma, angles)
    )
    assert torch.autograd.gradcheck(maps, inputs)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("rotation", [True, False])
def test_module_gradcheck_through_log_sigma_and_angles(ndim, rotation):
    module = AdaptiveGaussianHeatmaps(2, ndim, sigma_init=[1.4, 1.8], rotation=rotation).double()
    shape = (6, 7) if ndim == 2 else (5, 5, 6)
    points = torch.tensor([[[2.2, 3.3, 1.9][:ndim], [4.1, 0.3, 2.6][:ndim]]], dtype=torch.float64)
    names = ["log_sigma", "angles"] if rotation else ["log_sigma"]

    def maps(*values):
        overrides = dict(zip(names, values, strict=True))
        return torch.func.functional_call(module, overrides, (points, shape))

    values = tuple(getattr(module, n).detach().clone().requires_grad_() for n in names)
    assert torch.autograd.gradcheck(maps, values)


def test_module_forward_matches_functional_and_follows_dtype():
    module = AdaptiveGaussianHeatmaps(3, 2, sigma_init=2.0, gamma=100.0)
    with torch.no_grad():
        module.angles.copy_(torch.tensor([0.1, 0.2, 0.3]))
    points = torch.tensor([[[5.0, 6.0], [float("nan"), 1.0], [-1.0, 10.0]]], dtype=torch.float64)
    maps = module(points, (16, 16))
    assert maps.dtype == torch.float64 and not torch.isnan(maps).any()
    expected = anisotropic_gaussian_heatmaps(
        points, (16, 16), torch.full((3, 2), 2.0), torch.tensor([0.1, 0.2, 0.3]), gamma=100.0
    )
    torch.testing.assert_close(maps, expected)
    assert (maps[0, 1] == 0).all()


def test_gradients_reach_sigma_and_angles_in_3d_and_are_finite_with_nan():
    module = AdaptiveGaussianHeatmaps(2, 3, sigma_init=torch.tensor([[1.5, 2.0, 2.5]] * 2))
    points = torch.tensor([[[4.0, 5.0, 6.0], [float("nan")] * 3]])
    module(points, (10, 11, 12)).square().sum().backward()
    assert module.log_sigma.grad is not None and module.angles.grad is not None
    assert torch.isfinite(module.log_sigma.grad).all() and torch.isfinite(module.angles.grad).all()
    assert (module.log_sigma.grad[0] != 0).all() and (module.log_sigma.grad[1] == 0).all()
    assert (module.angles.grad[0] != 0).any()


def test_sigma_penalty_and_describe():
    module = AdaptiveGaussianHeatmaps(2, 2, sigma_init=[[2.0, 3.0], [1.0, 5.0]])
    assert float(module.sigma_penalty().detach()) == pytest.approx(2 * 3 + 1 * 5)
    module.sigma_penalty().backward()
    torch.testing.assert_close(module.log_sigma.grad, torch.tensor([[6.0, 6.0], [5.0, 5.0]]))
    info = module.describe()
    assert torch.allclose(torch.tensor(info["sigma"]), torch.tensor([[2.0, 3.0], [1.0, 5.0]]))
    assert info["angles"] == [0.0, 0.0] and info["sigma_penalty"] == pytest.approx(11.0)
    assert AdaptiveGaussianHeatmaps(1, 3, rotation=False).describe()["angles"] is None


def test_not_learnable_uses_buffers():
    module = AdaptiveGaussianHeatmaps(4, 3, sigma_init=2.5, learnable=False)
    assert list(module.parameters()) == []
    assert set(dict(module.named_buffers())) == {"log_sigma", "angles"}
    torch.testing.assert_close(module.sigma, torch.full((4, 3), 2.5))
    assert module.angles.shape == (4, 3)
    maps = module(torch.full((1, 4, 3), 3.0), (6, 7, 8))
    assert float(maps.max()) == pytest.approx(1.0)
    assert math.isclose(float(maps[0, 0, 3, 3, 3]), 1.0)


def test_rejects_bad_configuration():
    with pytest.raises(ValueError, match="ndim"):
        AdaptiveGaussianHeatmaps(2, 4)
    with pytest.raises(ValueError, match="positive"):
        AdaptiveGaussianHeatmaps(2, 2, sigma_init=0.0)
    with pytest.raises(ValueError, match="sigma_init"):
        AdaptiveGaussianHeatmaps(2, 2, sigma_init=[1.0, 2.0, 3.0])
