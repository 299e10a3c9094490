"""Point error and SDR over ~10^5 points (5263 images x 19 landmarks, 2D, per-image spacing).

Ours takes numpy arrays, landmarker torch float64 tensors; conversions happen outside the timed
call. Each benchmark also checks that both sides agree within 1e-6 (no missing landmarks here:
landmarker counts a NaN PE as an SDR miss, ours excludes it).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import import_landmarker

from landmarkbench.evaluation.metrics import point_error_mm, sdr

N_IMAGES, N_LANDMARKS = 5263, 19
RADII = [2.0, 2.5, 3.0, 4.0]
# Fixed rounds with warm-up for both sides: the first calls pay for allocations and thread
# start-up, which otherwise dominate a millisecond-scale median.
PEDANTIC = {"rounds": 200, "iterations": 1, "warmup_rounds": 10}


@pytest.fixture(scope="module")
def batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 2000, size=(N_IMAGES, N_LANDMARKS, 2))
    pred = true + rng.normal(0, 20, size=true.shape)
    spacing = rng.uniform(0.08, 0.15, size=(N_IMAGES, 2))
    # Independent reference: an explicit per-image loop.
    reference = np.stack(
        [np.linalg.norm((p - t) * s, axis=-1) for p, t, s in zip(pred, true, spacing, strict=True)]
    )
    return {"true": true, "pred": pred, "spacing": spacing, "pe": reference}


def _as_torch(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in batch.items()}


@pytest.mark.benchmark(group="metrics-point-error-1e5")
def test_point_error_ours(benchmark, batch):
    args = (batch["pred"], batch["true"], batch["spacing"])
    pe = benchmark.pedantic(point_error_mm, args, **PEDANTIC)
    np.testing.assert_allclose(pe, batch["pe"], rtol=0, atol=1e-9)


@pytest.mark.benchmark(group="metrics-point-error-1e5")
def test_point_error_landmarker(benchmark, batch):
    metrics = import_landmarker("landmarker.metrics")
    t = _as_torch(batch)
    kwargs = {"pixel_spacing": t["spacing"], "reduction": "none"}
    pe = benchmark.pedantic(metrics.point_error, (t["true"], t["pred"]), kwargs, **PEDANTIC)
    ours = point_error_mm(batch["pred"], batch["true"], batch["spacing"])
    np.testing.assert_allclose(pe.numpy(), ours, rtol=0, atol=1e-6)


def _sdr_ours(pred: np.ndarray, true: np.ndarray, spacing: np.ndarray) -> dict[float, float]:
    return sdr(point_error_mm(pred, true, spacing), RADII, "<=")


@pytest.mark.benchmark(group="metrics-sdr-1e5")
def test_sdr_ours(benchmark, batch):
    args = (batch["pred"], batch["true"], batch["spacing"])
    rates = benchmark.pedantic(_sdr_ours, args, **PEDANTIC)
    for r in RADII:
        assert rates[r] == pytest.approx(100.0 * np.mean(batch["pe"] <= r), abs=1e-9)


@pytest.mark.benchmark(group="metrics-sdr-1e5")
def test_sdr_landmarker(benchmark, batch):
    metrics = import_landmarker("landmarker.metrics")
    t = _as_torch(batch)
    args, kwargs = (RADII, t["true"], t["pred"]), {"pixel_spacing": t["spacing"]}
    rates = benchmark.pedantic(metrics.sdr, args, kwargs, **PEDANTIC)
    ours = _sdr_ours(batch["pred"], batch["true"], batch["spacing"])
    for r in RADII:
        # landmarker averages hits in float32: compare fractions (ours is exact in float64).
        assert rates[r] / 100.0 == pytest.approx(ours[r] / 100.0, abs=1e-6)
