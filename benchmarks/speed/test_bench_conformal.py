"""Conformal region areas: ours (continuous interpolated region, boundary supersampled on the
network grid) against landmarker's ``MR2CCP.area_prediction_region`` (bilinear upsampling of
every map to the original image, then a pixel count), on the same maps and threshold.

8 cases x 19 landmarks, 128 x 128 network maps of 512 x 512 images (scale 4, 0.1 mm pixels),
at the same 95 % threshold. Both sides must agree within 1 % on the mean area (landmarker
resolves the boundary to an original pixel, a quarter of a network pixel; ours to 1/16).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from conftest import import_landmarker

from landmarkbench.uncertainty.conformal import calibrate
from landmarkbench.uncertainty.probability_maps import spatial_softmax
from landmarkbench.uncertainty.region_measure import region_measure

N_CASES, N_LANDMARKS, GRID, ORIGINAL, SPACING = 8, 19, 128, 512, 0.1
PEDANTIC = {"rounds": 3, "iterations": 1, "warmup_rounds": 1}


def _maps(cases: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Anisotropic Gaussian-like logits at random centres; truths near the centres."""
    generator = torch.Generator().manual_seed(seed)
    axes = torch.meshgrid(*(torch.arange(GRID, dtype=torch.float32),) * 2, indexing="ij")
    centre = 20 + (GRID - 40) * torch.rand(cases, N_LANDMARKS, 2, generator=generator)
    sigma = 1.5 + 3 * torch.rand(cases, N_LANDMARKS, 2, generator=generator)
    logits = -sum(
        ((axes[k] - centre[..., k, None, None]) / sigma[..., k, None, None]) ** 2 / 2
        for k in range(2)
    )
    truth = centre + sigma * torch.randn(cases, N_LANDMARKS, 2, generator=generator)
    return spatial_softmax(logits), truth


@pytest.fixture(scope="module")
def setting() -> dict:
    calibration_maps, calibration_truth = _maps(60, 1)
    maps, _ = _maps(N_CASES, 2)
    calibration = calibrate(calibration_maps, calibration_truth, alpha=0.05)
    return {"maps": maps, "calibration": calibration}


def _our_area(setting: dict) -> np.ndarray:
    network_pixel_mm2 = (SPACING * ORIGINAL / GRID) ** 2
    return region_measure(setting["calibration"], setting["maps"]) * network_pixel_mm2


def _their_area(uncertainty, setting: dict) -> np.ndarray:
    reference = uncertainty.MR2CCP(
        spatial_dims=2, nb_landmarks=N_LANDMARKS, heatmap_size=(GRID, GRID)
    )
    reference.alphas = np.tile(np.array(setting["calibration"].q), (40, 1))  # our threshold
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return reference.area_prediction_region(
            setting["maps"].numpy(),
            original_dims=np.full((N_CASES, 2), ORIGINAL),
            padding=np.zeros((N_CASES, 2), dtype=int),
            spacing=np.full((N_CASES, 2), SPACING),
            confidence=0.95,
        )


@pytest.mark.benchmark(group="conformal-region-area-8x19x128x128")
def test_region_area_ours(benchmark, setting):
    area = benchmark.pedantic(_our_area, (setting,), **PEDANTIC)
    assert area.shape == (N_CASES, N_LANDMARKS) and (area > 0).all()


@pytest.mark.benchmark(group="conformal-region-area-8x19x128x128")
def test_region_area_landmarker(benchmark, setting):
    uncertainty = import_landmarker("landmarker.uncertainty.uncertainty")
    theirs = benchmark.pedantic(_their_area, (uncertainty, setting), **PEDANTIC)
    ours = _our_area(setting)
    assert abs(theirs.mean() / ours.mean() - 1) < 0.01
