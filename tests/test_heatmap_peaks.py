"""Tests for landmarkbench.heatmaps.peaks: multi-instance peak finding with NMS."""

from __future__ import annotations

import pytest
import torch

from landmarkbench.heatmaps.decoders import find_peaks
from landmarkbench.heatmaps.targets import gaussian_heatmaps


def _sum_of_gaussians(centres: list[list[list[float]]], shape, sigma=1.5) -> torch.Tensor:
    """(B, C, *shape) maps, each the sum of Gaussians at its list of integer centres."""
    maps = torch.zeros(len(centres), len(centres[0]), *shape)
    for b, row in enumerate(centres):
        for c, points in enumerate(row):
            for point in points:
                one = torch.tensor([[point]], dtype=torch.float32)
                maps[b, c] += gaussian_heatmaps(one, shape, sigma)[0, 0]
    return maps


def _as_sets(peaks):
    return [[{tuple(p.tolist()) for p in pts} for pts in row] for row in peaks.as_lists()]


@pytest.mark.parametrize("shape", [(24, 28), (12, 14, 16)])
def test_variable_numbers_of_peaks_per_map_including_border_peaks(shape):
    d = len(shape)
    last = [s - 1 for s in shape]
    a, b, c = [3.0] * d, [float(s // 2) for s in shape], [float(v) for v in last]
    corner = [0.0] * d
    centres = [[[a, b, c], [corner]], [[], [b, corner]]]
    maps = _sum_of_gaussians(centres, shape)
    peaks = find_peaks(maps, radius=2.0, threshold=0.5)
    assert peaks.counts.tolist() == [[3, 1], [0, 2]]
    assert peaks.coords.shape == (2, 2, 3, d) and peaks.scores.shape == (2, 2, 3)
    assert _as_sets(peaks) == [
        [{tuple(a), tuple(b), tuple(c)}, {tuple(corner)}],
        [set(), {tuple(b), tuple(corner)}],
    ]
    # Padding beyond the count is NaN (the missing-landmark convention), real entries finite.
    assert torch.isfinite(peaks.coords[peaks.valid]).all()
    assert torch.isnan(peaks.coords[~peaks.valid]).all()
    # Sorted by decreasing score within each map.
    scores = peaks.scores[0, 0]
    assert (scores[:-1] >= scores[1:]).all()


def test_radius_suppresses_the_weaker_of_two_close_peaks():
    maps = torch.zeros(1, 1, 20, 20)
    maps[0, 0, 5, 5] = 1.0
    maps[0, 0, 5, 9] = 0.8  # 4 px away
    assert find_peaks(maps, radius=3.0, threshold=0.1).counts.item() == 2
    tight = find_peaks(maps, radius=4.0, threshold=0.1)  # within the radius: suppressed
    assert tight.counts.item() == 1 and tight.coords[0, 0, 0].tolist() == [5.0, 5.0]
    # Euclidean radius: a diagonal neighbour at distance sqrt(8) ~ 2.83 survives radius 2.5.
    maps[0, 0, 5, 9] = 0.0
    maps[0, 0, 7, 7] = 0.8
    assert find_peaks(maps, radius=2.5, threshold=0.1).counts.item() == 2
    assert find_peaks(maps, radius=2.9, threshold=0.1).counts.item() == 1


def test_threshold_is_strict_and_max_peaks_keeps_the_highest():
    maps = torch.zeros(1, 1, 30, 30)
    for k, value in enumerate([0.9, 0.7, 0.5, 0.3]):
        maps[0, 0, 5, 3 + 7 * k] = value
    assert find_peaks(maps, radius=2.0, threshold=0.5).counts.item() == 2
    top = find_peaks(maps, radius=2.0, threshold=0.0, max_peaks=3)
    assert top.counts.item() == 3
    torch.testing.assert_close(top.scores[0, 0], torch.tensor([0.9, 0.7, 0.5]))


@pytest.mark.parametrize("shape", [(8, 9), (5, 6, 7)])
def test_plateaus_zero_and_constant_maps_give_no_nan(shape):
    # A constant map is one big plateau: thinned to peaks more than the radius apart.
    constant = find_peaks(torch.ones(1, 1, *shape), radius=20.0, threshold=0.5)
    assert constant.counts.item() == 1 and torch.isfinite(constant.coords).all()
    zero = find_peaks(torch.zeros(2, 3, *shape), radius=2.0, threshold=0.0)
    assert zero.counts.eq(0).all() and zero.coords.shape == (2, 3, 0, len(shape))
    assert zero.as_lists()[1][2].shape == (0, len(shape))


def test_radius_zero_keeps_every_strict_local_maximum():
    maps = torch.tensor([[[0.0, 1.0, 0.0, 2.0, 2.0, 0.0, 3.0]]])
    peaks = find_peaks(maps, radius=0.0, threshold=0.5)
    assert peaks.counts.item() == 4  # the plateau 2.0, 2.0 counts twice at radius 0
    assert find_peaks(maps, radius=1.0, threshold=0.5).counts.item() == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"radius": -1.0, "threshold": 0.0}, "Radius"),
        ({"radius": 1.0, "threshold": 0.0, "max_peaks": 0}, "max_peaks"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        find_peaks(torch.zeros(1, 1, 4, 4), **kwargs)
