"""Tests for landmarkbench.heatmaps.onehot: rounded one-hot targets and NLL indices."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from landmarkbench.heatmaps.onehot import (
    IGNORE_INDEX,
    nearest_pixel,
    onehot_heatmaps,
    onehot_indices,
)

NAN = float("nan")


def test_ties_round_up_not_to_even_and_not_truncated():
    values = torch.tensor([2.5, 2.49, 2.51, 3.5, -0.5, -0.51, 0.7])
    assert nearest_pixel(values).tolist() == [3, 2, 3, 4, 0, -1, 1]


def test_2d_single_one_at_rounded_pixel_with_border_outside_and_nan():
    points = torch.tensor(
        [
            [[2.5, 3.49], [0.0, 0.0], [9.4, 7.4], [-0.5, 7.49], [9.5, 1.0], [-0.6, 2.0]],
            [[NAN, 1.0], [1.0, 7.5], [4.0, -3.0], [1e30, 2.0], [float("inf"), 1.0], [5.2, 5.8]],
        ]
    )
    targets = onehot_heatmaps(points, (10, 8))
    assert targets.heatmaps.shape == (2, 6, 10, 8)
    expected_mask = [
        [True, True, True, True, False, False],
        [False, False, False, False, False, True],
    ]
    assert targets.mask.tolist() == expected_mask
    pixels = {(0, 0): (3, 3), (0, 1): (0, 0), (0, 2): (9, 7), (0, 3): (0, 7), (1, 5): (5, 6)}
    for (b, c), (r, col) in pixels.items():
        assert targets.heatmaps[b, c, r, col] == 1
        assert targets.flat_index[b, c] == r * 8 + col
    sums = targets.heatmaps.sum(dim=(-2, -1))
    assert torch.equal(sums, targets.mask.float())
    assert (targets.flat_index[~targets.mask] == IGNORE_INDEX).all()
    assert not torch.isnan(targets.heatmaps).any()


def test_3d_flat_index_is_row_major():
    points = torch.tensor(
        [[[1.5, 2.2, 3.7], [3.6, 4.0, 5.0], [NAN, 0.0, 0.0]]], dtype=torch.float64
    )
    targets = onehot_heatmaps(points, (4, 5, 6))
    assert targets.heatmaps.dtype == torch.float64
    assert targets.mask.tolist() == [[True, False, False]]
    assert targets.flat_index[0, 0] == (2 * 5 + 2) * 6 + 4
    assert targets.heatmaps[0, 0, 2, 2, 4] == 1 and targets.heatmaps.sum() == 1
    index, mask = onehot_indices(points, (4, 5, 6))
    assert torch.equal(index, targets.flat_index) and torch.equal(mask, targets.mask)


def test_indices_drive_a_spatial_softmax_nll():
    points = torch.tensor([[[1.0, 2.0], [NAN, NAN]]])
    targets = onehot_heatmaps(points, (4, 4))
    logits = torch.zeros(1, 2, 4, 4)
    logits[0, 0, 1, 2] = 5.0
    loss = F.cross_entropy(logits.flatten(2).flatten(0, 1), targets.flat_index.flatten())
    probability = torch.softmax(logits[0, 0].flatten(), 0)[1 * 4 + 2]
    assert float(loss) == pytest.approx(float(-probability.log()))


def test_onehot_rejects_wrong_dimensionality():
    with pytest.raises(ValueError, match=r"\(B, C, 3\)"):
        onehot_heatmaps(torch.zeros(1, 1, 2), (4, 4, 4))
