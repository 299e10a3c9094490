"""Tests for the Gaussian heatmap targets: separable, anisotropic and windowed rotated."""

from __future__ import annotations

import math

import pytest
import torch

from landmarkbench.heatmaps.targets import (
    anisotropic_gaussian_heatmaps,
    covariance_matrix,
    gaussian_heatmaps,
    landmark_mask,
)


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


# --- Anisotropic and rotated Gaussians (landmarkbench.heatmaps.gaussian) -------------------


def _brute_force_rotated(points, shape, sigma_cd, angles, gamma, laplacian=False):
    """Every pixel, with an explicit matrix inverse of S = R diag(sigma^2) R^T (independent)."""
    d = len(shape)
    grid = torch.stack(
        torch.meshgrid(*(torch.arange(n, dtype=points.dtype) for n in shape), indexing="ij"),
        dim=-1,
    ).reshape(-1, d)
    cov = covariance_matrix(sigma_cd, angles)  # (C, d, d)
    inv_cov = torch.linalg.inv(cov)
    diff = grid[None, None] - points[:, :, None, :]  # (B, C, P, d)
    quad = torch.einsum("bcpi,cij,bcpj->bcp", diff, inv_cov, diff)
    det_sqrt = torch.linalg.det(cov).sqrt()
    if laplacian:
        scale = 1.0 if gamma is None else gamma / (2 * math.pi / 3 * det_sqrt)
        maps = torch.exp(-torch.sqrt(3 * quad))
    else:
        scale = 1.0 if gamma is None else gamma / ((2 * math.pi) ** (d / 2) * det_sqrt)
        maps = torch.exp(-0.5 * quad)
    if gamma is not None:
        maps = maps * scale[None, :, None]
    maps = maps.reshape(*points.shape[:2], *shape)
    return torch.where(landmark_mask(points)[(...,) + (None,) * d], maps, 0.0)


def _edge_points(shape, dtype=torch.float64):
    """Interior, on-border, just-outside and far-outside landmarks, plus a missing one."""
    d = len(shape)
    last = [s - 1.0 for s in shape]
    rows = [
        [s / 2 - 0.3 for s in shape],
        [0.0] * d,
        last,
        [-1.7, *[s / 3 for s in shape[1:]]],
        [*last[:-1], shape[-1] + 2.2],
        [-40.0] * d,
        [float("nan")] * d,
    ]
    return torch.tensor([rows], dtype=dtype)


_SIGMA_2D = torch.tensor([[2.0, 4.0]], dtype=torch.float64)
_SIGMA_3D = torch.tensor([[1.5, 2.5, 3.0]], dtype=torch.float64)
_ANGLES = {2: torch.tensor(0.7, dtype=torch.float64), 3: torch.tensor([0.4, -0.9, 1.3])}


@pytest.mark.parametrize("shape", [(24, 28), (14, 16, 18)])
@pytest.mark.parametrize("gamma", [None, 100.0])
def test_rotated_exact_matches_brute_force_at_border_outside_and_nan(shape, gamma):
    d = len(shape)
    points = _edge_points(shape)
    sigma = _SIGMA_2D if d == 2 else _SIGMA_3D
    angles = _ANGLES[d].to(torch.float64)
    maps = anisotropic_gaussian_heatmaps(points, shape, sigma, angles, gamma, window=None)
    c = points.shape[1]
    expected = _brute_force_rotated(
        points, shape, sigma.expand(c, d), angles.expand(c, *angles.shape[0:]), gamma
    )
    assert not torch.isnan(maps).any()
    torch.testing.assert_close(maps, expected, atol=1e-10, rtol=0)
    assert (maps[0, -1] == 0).all()


@pytest.mark.parametrize("shape", [(40, 44), (20, 22, 24)])
@pytest.mark.parametrize("window", [3.0, 5.0])
def test_window_is_exact_inside_zero_outside_and_within_bound(shape, window):
    d = len(shape)
    points = _edge_points(shape)
    sigma = _SIGMA_2D if d == 2 else _SIGMA_3D
    angles = _ANGLES[d].to(torch.float64)
    exact = anisotropic_gaussian_heatmaps(points, shape, sigma, angles, window=None)
    windowed = anisotropic_gaussian_heatmaps(points, shape, sigma, angles, window=window)
    inside = windowed != 0
    torch.testing.assert_close(windowed[inside], exact[inside], atol=1e-12, rtol=0)
    assert (exact - windowed).abs().max() <= math.exp(-(window**2) / 2)
    assert (windowed[0, 0] == 0).any()  # the interior landmark's box is smaller than the map
    assert not torch.isnan(windowed).any()


@pytest.mark.parametrize("shape", [(20, 24), (10, 12, 14)])
def test_axis_aligned_anisotropic_separable_matches_brute_force(shape):
    d = len(shape)
    points = _edge_points(shape)
    sigma = torch.linspace(1.2, 3.4, 7 * d, dtype=torch.float64).reshape(7, d)
    zero = torch.zeros(7, *(() if d == 2 else (3,)), dtype=torch.float64)
    maps = anisotropic_gaussian_heatmaps(points, shape, sigma, gamma=50.0)
    torch.testing.assert_close(
        maps, _brute_force_rotated(points, shape, sigma, zero, 50.0), atol=1e-10, rtol=0
    )
    # Zero angles that need no gradient take the same separable path.
    same = anisotropic_gaussian_heatmaps(points, shape, sigma, angles=zero, gamma=50.0)
    torch.testing.assert_close(same, maps, atol=0, rtol=0)


@pytest.mark.parametrize("shape", [(64, 64), (36, 36, 36)])
def test_rotated_gamma_map_sums_to_gamma(shape):
    d = len(shape)
    point = torch.tensor([[[s / 2 + 0.21 for s in shape]]], dtype=torch.float64)
    sigma = _SIGMA_2D if d == 2 else _SIGMA_3D
    maps = anisotropic_gaussian_heatmaps(point, shape, sigma, _ANGLES[d].double(), gamma=100.0)
    assert float(maps.sum()) == pytest.approx(100.0, rel=1e-5)


def test_per_landmark_sigma_and_angles_2d():
    points = torch.tensor([[[20.0, 20.0], [20.0, 20.0]]], dtype=torch.float64)
    sigma = torch.tensor([[1.0, 5.0], [1.0, 5.0]], dtype=torch.float64)
    angles = torch.tensor([0.0, math.pi / 2], dtype=torch.float64)
    maps = anisotropic_gaussian_heatmaps(points, (41, 41), sigma, angles)
    # Landmark 0 is long along columns, landmark 1 (turned by pi/2) long along rows.
    assert float(maps[0, 0, 20, 25]) == pytest.approx(math.exp(-0.5))
    assert float(maps[0, 1, 25, 20]) == pytest.approx(math.exp(-0.5))
    assert float(maps[0, 1, 20, 25]) == pytest.approx(math.exp(-12.5), abs=1e-9)


def test_rotation_convention_2d_principal_axes():
    # R e_0 = (cos, sin) carries sigma[0], R e_1 = (-sin, cos) carries sigma[1] (row, col).
    theta = 0.5
    point = torch.tensor([[[30.0, 29.6]]], dtype=torch.float64)
    sigma = torch.tensor([[1.5, 6.0]], dtype=torch.float64)
    maps = anisotropic_gaussian_heatmaps(point, (61, 61), sigma, theta, window=None)
    rows, cols = torch.meshgrid(
        torch.arange(61.0, dtype=torch.float64),
        torch.arange(61.0, dtype=torch.float64),
        indexing="ij",
    )
    dr, dc = rows - 30.0, cols - 29.6
    across = dr * math.cos(theta) + dc * math.sin(theta)
    along = -dr * math.sin(theta) + dc * math.cos(theta)
    expected = torch.exp(-0.5 * ((across / 1.5) ** 2 + (along / 6.0) ** 2))
    torch.testing.assert_close(maps[0, 0], expected, atol=1e-12, rtol=0)
    mirrored = anisotropic_gaussian_heatmaps(point, (61, 61), sigma, -theta, window=None)
    assert (mirrored[0, 0] - expected).abs().max() > 0.1


@pytest.mark.parametrize("angles", [(math.pi / 2, 0.0, 0.0), (0.0, math.pi / 2, 0.0)])
def test_rotation_convention_3d_quarter_turns(angles):
    # sigma long along axis 2. R_2(pi/2) (first angle) maps e_2 to itself; R_1(pi/2) (second
    # angle) maps e_2 to e_0. So the long axis stays on d2, respectively moves onto d0.
    point = torch.tensor([[[10.0, 10.0, 10.0]]], dtype=torch.float64)
    sigma = torch.tensor([[1.0, 1.5, 5.0]], dtype=torch.float64)
    maps = anisotropic_gaussian_heatmaps(point, (21, 21, 21), sigma, torch.tensor(angles))
    long_axis = 2 if angles[0] else 0
    index = [10, 10, 10]
    index[long_axis] = 15
    assert float(maps[(0, 0, *index)]) == pytest.approx(math.exp(-0.5))


def test_rotated_follows_dtype_and_rejects_bad_inputs():
    points = torch.full((1, 2, 2), 3.0)
    maps = anisotropic_gaussian_heatmaps(points, (8, 8), torch.tensor([[1.0, 2.0]]), 0.3)
    assert maps.dtype == torch.float32 and maps.shape == (1, 2, 8, 8)
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        anisotropic_gaussian_heatmaps(points, (8, 8), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="angle"):
        anisotropic_gaussian_heatmaps(points, (8, 8), 1.0, torch.ones(3))
    with pytest.raises(ValueError, match="Window"):
        anisotropic_gaussian_heatmaps(points, (8, 8), 1.0, 0.3, window=0.0)
    with pytest.raises(ValueError, match="positive"):
        anisotropic_gaussian_heatmaps(points, (8, 8), torch.tensor([[1.0, -1.0]]), 0.3)


def test_rotated_gradients_are_finite_with_nan_landmark():
    points = torch.tensor([[[5.0, 6.0], [float("nan"), 2.0]]], requires_grad=True)
    sigma = torch.tensor([[2.0, 3.0]], requires_grad=True)
    angles = torch.tensor([0.2, 0.4], requires_grad=True)
    maps = anisotropic_gaussian_heatmaps(points, (12, 12), sigma, angles, gamma=10.0)
    maps.square().sum().backward()
    for grad in (points.grad, sigma.grad, angles.grad):
        assert grad is not None and torch.isfinite(grad).all()
    assert (maps[0, 1] == 0).all()


def test_facade_exports_every_target():
    import landmarkbench.heatmaps.targets as targets

    for name in targets.__all__:
        assert hasattr(targets, name)


@pytest.mark.parametrize("shape", [(64, 64), (24, 24, 24)])
def test_no_subnormal_values_and_only_negligible_ones_flushed(shape):
    # Subnormal floats make CPU arithmetic ~100x slower; the separable path flushes the
    # profile values whose products would be subnormal.
    points = _edge_points(shape, torch.float32)
    maps = gaussian_heatmaps(points, shape, 1.0)
    tiny = torch.finfo(torch.float32).tiny
    assert not ((maps > 0) & (maps < tiny)).any()
    exact = gaussian_heatmaps(points.double(), shape, 1.0)
    assert (maps.double() - exact).abs().max() < 1e-6


def test_gamma_must_be_positive():
    points = torch.zeros(1, 1, 2)
    with pytest.raises(ValueError, match="Gamma"):
        gaussian_heatmaps(points, (4, 4), 1.0, gamma=0.0)
    with pytest.raises(ValueError, match="Gamma"):
        anisotropic_gaussian_heatmaps(points, (4, 4), 1.0, 0.2, gamma=-1.0)
