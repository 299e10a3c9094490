"""Our heatmap targets agree with landmarker's generators (skipped when it is not installed).

landmarker takes points in the same array-index order ((y, x) = (row, col), (z, y, x)), the
same rotation matrices and sigma per axis, and evaluates every pixel; our windowed maps differ
from it by at most exp(-k^2 / 2) outside the windows.
"""

from __future__ import annotations

import pytest
import torch

from landmarkbench.heatmaps.gaussian import anisotropic_gaussian_heatmaps, gaussian_heatmaps
from landmarkbench.heatmaps.laplacian import laplacian_heatmaps

generator = pytest.importorskip("landmarker.heatmap.generator")

TOLERANCE = 1e-5


def _points(shape, count=5, batch=2):
    torch.manual_seed(3)
    scale = torch.tensor([s - 1.0 for s in shape])
    points = torch.rand(batch, count, len(shape)) * scale
    points[0, 0] = 0.0  # on the border
    points[1, 1] = scale  # on the far border
    return points


def _max_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours - theirs.to(ours.dtype)).abs().max())


@pytest.mark.parametrize("shape", [(48, 56), (20, 22, 24)])
@pytest.mark.parametrize("gamma", [None, 100.0])
def test_isotropic_gaussian_matches(shape, gamma):
    points = _points(shape)
    theirs = generator.GaussianHeatmapGenerator(
        5, sigmas=2.5, gamma=gamma, heatmap_size=shape, learnable=False
    )
    with torch.no_grad():
        expected = theirs(points)
    assert _max_difference(gaussian_heatmaps(points, shape, 2.5, gamma), expected) < TOLERANCE


@pytest.mark.parametrize(
    ("shape", "sigma", "rotation"),
    [((48, 56), [3.0, 6.0], 0.5), ((20, 22, 24), [1.5, 2.0, 3.0], [0.4, -0.3, 0.9])],
)
@pytest.mark.parametrize("gamma", [None, 100.0])
def test_rotated_anisotropic_gaussian_matches(shape, sigma, rotation, gamma):
    points = _points(shape)
    theirs = generator.GaussianHeatmapGenerator(
        5, sigmas=sigma, rotation=rotation, gamma=gamma, heatmap_size=shape, learnable=False
    )
    with torch.no_grad():
        expected = theirs(points)
    ours = anisotropic_gaussian_heatmaps(
        points, shape, torch.tensor([sigma]), torch.tensor(rotation), gamma
    )
    # gamma 100 multiplies the map, so the absolute tolerance scales with its peak.
    peak = 1.0 if gamma is None else float(expected.max())
    assert _max_difference(ours, expected) < TOLERANCE * peak


@pytest.mark.parametrize("gamma", [None, 100.0])
def test_laplacian_matches(gamma):
    shape = (48, 56)
    points = _points(shape)
    theirs = generator.LaplacianHeatmapGenerator(
        5, sigmas=[2.0, 3.0], rotation=0.3, gamma=gamma, heatmap_size=shape, learnable=False
    )
    with torch.no_grad():
        expected = theirs(points)
    ours = laplacian_heatmaps(points, shape, torch.tensor([[2.0, 3.0]]), 0.3, gamma)
    peak = 1.0 if gamma is None else float(expected.max())
    assert _max_difference(ours, expected) < TOLERANCE * peak
