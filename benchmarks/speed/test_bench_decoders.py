"""Heatmap decoders, ours vs landmarker's on 8 x 19 x 512 x 512 float32 maps (CPU).

Both sides decode the same peak-1 Gaussian maps (sigma 3, landmarks away from the border) with
the same settings: local soft-argmax with window 5 and temperature 10 on the raw map values
(landmarker's ``coord_local_soft_argmax`` defaults; our ``input_space="logits"``), and the
soft-argmax over the whole map with temperature 1 (landmarker's ``heatmap_to_coord`` method
``"soft_argmax"``, i.e. ``coord_weighted_spatial_mean(activation="softmax")``). Each landmarker
test also records the largest coordinate difference from ours in ``extra_info``.
"""

from __future__ import annotations

import pytest
import torch
from conftest import import_landmarker

from landmarkbench.heatmaps.decoders import local_soft_argmax, soft_argmax
from landmarkbench.heatmaps.targets import gaussian_heatmaps

BATCH, LANDMARKS, SHAPE = 8, 19, (512, 512)
SIGMA = 3.0
WINDOW, TEMPERATURE = 5, 10.0
OURS_ROUNDS = {"rounds": 20, "iterations": 1, "warmup_rounds": 2}
LANDMARKER_ROUNDS = {"rounds": 3, "iterations": 1, "warmup_rounds": 1}

LOCAL = "decoders: local soft-argmax 8x19x512x512"
GLOBAL = "decoders: soft-argmax 8x19x512x512"


@pytest.fixture(scope="module")
def points() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    margin = 10.0
    return margin + torch.rand(BATCH, LANDMARKS, 2, generator=generator) * (
        SHAPE[0] - 1 - 2 * margin
    )


@pytest.fixture(scope="module")
def maps(points: torch.Tensor) -> torch.Tensor:
    return gaussian_heatmaps(points, SHAPE, SIGMA).contiguous()


def _record_difference(benchmark, ours: torch.Tensor, theirs: torch.Tensor, limit: float):
    difference = float((ours - theirs.to(ours.dtype)).abs().max())
    benchmark.extra_info["max_abs_difference_px"] = difference
    assert difference < limit


@pytest.mark.benchmark(group=LOCAL)
def test_local_soft_argmax_ours(benchmark, maps, points):
    coords = benchmark.pedantic(
        local_soft_argmax, args=(maps, WINDOW, TEMPERATURE, "logits"), **OURS_ROUNDS
    )
    assert coords.shape == (BATCH, LANDMARKS, 2)
    assert (coords - points).abs().max() < 0.1


@pytest.mark.benchmark(group=LOCAL)
def test_local_soft_argmax_landmarker(benchmark, maps):
    decoder = import_landmarker("landmarker.heatmap.decoder")
    theirs = benchmark.pedantic(
        decoder.coord_local_soft_argmax, args=(maps, WINDOW, TEMPERATURE), **LANDMARKER_ROUNDS
    )
    ours = local_soft_argmax(maps, WINDOW, TEMPERATURE, "logits")
    _record_difference(benchmark, ours, theirs, 1e-4)


@pytest.mark.benchmark(group=GLOBAL)
def test_soft_argmax_ours(benchmark, maps):
    coords = benchmark.pedantic(soft_argmax, args=(maps, 1.0), **OURS_ROUNDS)
    assert coords.shape == (BATCH, LANDMARKS, 2) and torch.isfinite(coords).all()


@pytest.mark.benchmark(group=GLOBAL)
def test_soft_argmax_landmarker(benchmark, maps):
    decoder = import_landmarker("landmarker.heatmap.decoder")

    def decode(heatmaps: torch.Tensor) -> torch.Tensor:
        return decoder.coord_weighted_spatial_mean(heatmaps, 2, "softmax", t=1.0)

    theirs = benchmark.pedantic(decode, args=(maps,), **LANDMARKER_ROUNDS)
    _record_difference(benchmark, soft_argmax(maps, 1.0), theirs, 1e-3)
