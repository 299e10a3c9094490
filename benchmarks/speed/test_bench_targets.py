"""Heatmap target generation, ours vs landmarker's GaussianHeatmapGenerator (CPU, float32).

Both sides get the same random points in array-index order ((y, x) = (row, col), which is
landmarker's order too), the same sigma and rotation, no learnable parameters and gamma None.
Each landmarker test also checks that our maps are within 1e-5 of its maps (the acceptance
criterion) and records the maximum absolute difference in ``extra_info``.
"""

from __future__ import annotations

import pytest
import torch
from conftest import import_landmarker

from landmarkbench.heatmaps.gaussian import anisotropic_gaussian_heatmaps, gaussian_heatmaps

BATCH, LANDMARKS, SHAPE = 8, 19, (512, 512)
SIGMA = 3.0
ANISOTROPIC_SIGMA = (3.0, 6.0)
ROTATION = 0.5
TOLERANCE = 1e-5
# landmarker takes seconds per call at this size: few rounds keep a group under a minute.
OURS_ROUNDS = {"rounds": 10, "iterations": 1, "warmup_rounds": 1}
LANDMARKER_ROUNDS = {"rounds": 3, "iterations": 1, "warmup_rounds": 1}

ISOTROPIC = "targets: isotropic gaussian 8x19x512x512"
ROTATED = "targets: rotated anisotropic 8x19x512x512"


def _points() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(BATCH, LANDMARKS, 2, generator=generator) * (SHAPE[0] - 1)
    points[0, 0] = 0.0  # one landmark on the border, one just past the far corner
    points[0, 1] = SHAPE[0] - 0.6
    return points


def _ours_isotropic(points: torch.Tensor) -> torch.Tensor:
    return gaussian_heatmaps(points, SHAPE, SIGMA)


def _ours_rotated(points: torch.Tensor) -> torch.Tensor:
    sigma = torch.tensor([ANISOTROPIC_SIGMA])
    return anisotropic_gaussian_heatmaps(points, SHAPE, sigma, angles=ROTATION)


def _landmarker_generator(sigma, rotation):
    module = import_landmarker("landmarker.heatmap.generator")
    return module.GaussianHeatmapGenerator(
        LANDMARKS,
        sigmas=sigma,
        gamma=None,
        rotation=rotation,
        heatmap_size=SHAPE,
        learnable=False,
    )


def _check_close(benchmark, ours: torch.Tensor, theirs: torch.Tensor) -> None:
    difference = float((ours - theirs).abs().max())
    benchmark.extra_info["max_abs_difference"] = difference
    print(f"\n{benchmark.group}: max |ours - landmarker| = {difference:.3e}")
    assert difference < TOLERANCE, f"max |ours - landmarker| = {difference:.3e}"


@pytest.mark.benchmark(group=ISOTROPIC)
def test_isotropic_gaussian_ours(benchmark):
    points = _points()
    with torch.no_grad():
        maps = benchmark.pedantic(_ours_isotropic, args=(points,), **OURS_ROUNDS)
    assert maps.shape == (BATCH, LANDMARKS, *SHAPE)


@pytest.mark.benchmark(group=ISOTROPIC)
def test_isotropic_gaussian_landmarker(benchmark):
    generator = _landmarker_generator(SIGMA, 0.0)
    points = _points()
    with torch.no_grad():
        theirs = benchmark.pedantic(generator, args=(points,), **LANDMARKER_ROUNDS)
        _check_close(benchmark, _ours_isotropic(points), theirs)


@pytest.mark.benchmark(group=ROTATED)
def test_rotated_anisotropic_gaussian_ours(benchmark):
    points = _points()
    with torch.no_grad():
        maps = benchmark.pedantic(_ours_rotated, args=(points,), **OURS_ROUNDS)
    assert maps.shape == (BATCH, LANDMARKS, *SHAPE)


@pytest.mark.benchmark(group=ROTATED)
def test_rotated_anisotropic_gaussian_landmarker(benchmark):
    generator = _landmarker_generator(list(ANISOTROPIC_SIGMA), ROTATION)
    points = _points()
    with torch.no_grad():
        theirs = benchmark.pedantic(generator, args=(points,), **LANDMARKER_ROUNDS)
        _check_close(benchmark, _ours_rotated(points), theirs)
