"""Tests for landmarkbench.heatmaps.decoders: argmax and quadratic sub-pixel refinement."""

from __future__ import annotations

import pytest
import torch

from landmarkbench.heatmaps.decoders import argmax_decode, quadratic_subpixel_decode
from landmarkbench.heatmaps.targets import gaussian_heatmaps

DECODERS = [argmax_decode, quadratic_subpixel_decode]


def _random_points(batch, channels, shape, margin, seed):
    generator = torch.Generator().manual_seed(seed)
    low = torch.full((len(shape),), float(margin))
    high = torch.tensor(shape, dtype=torch.float32) - 1 - margin
    return low + torch.rand(batch, channels, len(shape), generator=generator) * (high - low)


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("shape", [(17, 23), (9, 11, 13)])
def test_integer_single_pixel_peaks_are_recovered_exactly(decoder, shape):
    points = _random_points(3, 4, shape, margin=0, seed=1).round()
    maps = torch.zeros(3, 4, *shape)
    index = (*torch.meshgrid(torch.arange(3), torch.arange(4), indexing="ij"),)
    maps[(*index, *points.long().unbind(-1))] = 1.0
    decoded = decoder(maps)
    assert decoded.shape == (3, 4, len(shape)) and decoded.dtype == torch.float32
    assert torch.equal(decoded, points)


@pytest.mark.parametrize("shape", [(32, 40), (16, 18, 20)])
def test_integer_gaussian_peaks_are_recovered_exactly(shape):
    points = _random_points(2, 3, shape, margin=2, seed=2).round()
    maps = gaussian_heatmaps(points, shape, 2.0)
    assert torch.equal(argmax_decode(maps), points)
    torch.testing.assert_close(quadratic_subpixel_decode(maps), points, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(32, 40), (16, 18, 20)])
def test_quadratic_refinement_recovers_subpixel_gaussian_peaks(shape):
    points = _random_points(4, 5, shape, margin=2, seed=3)
    maps = gaussian_heatmaps(points, shape, 2.0)
    argmax_error = (argmax_decode(maps) - points).abs()
    refined_error = (quadratic_subpixel_decode(maps) - points).abs()
    assert argmax_error.max() <= 0.5 + 1e-6
    assert refined_error.max() < 0.1
    assert refined_error.mean() < 0.5 * argmax_error.mean()


@pytest.mark.parametrize("shape", [(20, 24), (12, 14, 16)])
def test_border_axis_is_not_refined(shape):
    # Peak on the first row: no neighbour above, so axis 0 stays at the integer 0.
    point = torch.tensor([[[0.3, *(s / 2 + 0.3 for s in shape[1:])]]])
    decoded = quadratic_subpixel_decode(gaussian_heatmaps(point, shape, 2.0))
    assert decoded[0, 0, 0] == 0.0
    assert (decoded[0, 0, 1:] - point[0, 0, 1:]).abs().max() < 0.1


def test_constant_map_is_not_refined_and_gives_no_nan():
    decoded = quadratic_subpixel_decode(torch.ones(1, 2, 6, 7))
    assert torch.equal(decoded, torch.zeros(1, 2, 2))


def test_flat_top_refines_to_parabola_vertex():
    # The first maximum (row-major) of a 3x3 flat top is its corner (2, 3); the parabola
    # through (0, 1, 1) has its vertex half a pixel further, on both axes.
    maps = torch.zeros(1, 1, 6, 7)
    maps[0, 0, 2:5, 3:6] = 1.0
    assert torch.equal(quadratic_subpixel_decode(maps), torch.tensor([[[2.5, 3.5]]]))


def test_refinement_is_within_half_a_pixel_of_argmax():
    maps = torch.rand(3, 4, 15, 15, generator=torch.Generator().manual_seed(4))
    offset = quadratic_subpixel_decode(maps) - argmax_decode(maps)
    assert offset.abs().max() <= 0.5


@pytest.mark.parametrize("decoder", DECODERS)
def test_float64_maps_give_float64_coordinates(decoder):
    maps = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    maps[0, 0, 2, 3] = 1.0
    assert decoder(maps).dtype == torch.float64


@pytest.mark.parametrize("decoder", DECODERS)
def test_rejects_maps_without_batch_and_channel_axes(decoder):
    with pytest.raises(ValueError, match=r"\(B, C, \*spatial\)"):
        decoder(torch.zeros(5, 5))
