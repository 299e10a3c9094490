"""Tests for landmarkbench.heatmaps.decoders: argmax and (log-)quadratic sub-pixel fits."""

from __future__ import annotations

import pytest
import torch

from landmarkbench.heatmaps.decoders import (
    argmax_decode,
    log_quadratic_subpixel_decode,
    quadratic_subpixel_decode,
)
from landmarkbench.heatmaps.targets import gaussian_heatmaps

DECODERS = [argmax_decode, quadratic_subpixel_decode, log_quadratic_subpixel_decode]


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


def _points_near_borders(batch, channels, shape, seed, border_fraction=0.7):
    """Random sub-pixel points inside the map, most within 0-2 px of an edge on some axes."""
    generator = torch.Generator().manual_seed(seed)
    d = len(shape)
    size = torch.tensor(shape, dtype=torch.float32)
    interior = torch.rand(batch, channels, d, generator=generator) * (size - 1)
    depth = torch.rand(batch, channels, d, generator=generator) * 2
    low_side = torch.rand(batch, channels, d, generator=generator) < 0.5
    near = torch.where(low_side, depth, size - 1 - depth)
    use_near = torch.rand(batch, channels, d, generator=generator) < border_fraction
    return torch.where(use_near, near, interior)


@pytest.mark.parametrize("shape", [(24, 30), (14, 16, 18)])
@pytest.mark.parametrize("sigma", [1.0, 1.7, 2.5, 3.3, 5.0])
def test_log_fit_recovers_gaussians_exactly_including_near_the_border(shape, sigma):
    points = _points_near_borders(4, 25, shape, seed=int(10 * sigma) + len(shape))
    assert ((points.min(-1).values < 2) | (points > torch.tensor(shape) - 3).any(-1)).sum() > 50
    maps = gaussian_heatmaps(points, shape, sigma)
    decoded = log_quadratic_subpixel_decode(maps)
    assert decoded.shape == points.shape and torch.isfinite(decoded).all()
    assert (decoded - points).abs().max() < 0.01  # measured: below 1e-5 px in float32


@pytest.mark.parametrize("shape", [(24, 30), (14, 16, 18)])
def test_log_fit_is_exact_at_the_border_pixel_and_for_scaled_gaussians(shape):
    # Peaks exactly on the first/last pixel, and half a pixel outside it but still nearest it.
    d = len(shape)
    last = torch.tensor(shape, dtype=torch.float32) - 1
    points = torch.stack([torch.zeros(d), last, torch.full((d,), -0.45), last + 0.45])[None]
    maps = gaussian_heatmaps(points, shape, 2.0, gamma=100.0)
    assert (log_quadratic_subpixel_decode(maps) - points).abs().max() < 1e-4


def test_log_fit_on_float64_is_exact_to_high_precision():
    points = _points_near_borders(2, 10, (20, 22), seed=5).double()
    maps = gaussian_heatmaps(points, (20, 22), 3.0)
    decoded = log_quadratic_subpixel_decode(maps)
    assert decoded.dtype == torch.float64
    assert (decoded - points).abs().max() < 1e-9


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("shape", [(6, 7), (4, 5, 6)])
@pytest.mark.parametrize("fill", [0.0, 1.0, -2.0])
def test_constant_and_zero_maps_give_the_first_pixel_and_no_nan(decoder, shape, fill):
    decoded = decoder(torch.full((2, 3, *shape), fill))
    assert torch.equal(decoded, torch.zeros(2, 3, len(shape)))


def test_log_fit_guards_zeros_negatives_and_tiny_axes():
    maps = torch.zeros(1, 3, 2, 9)
    maps[0, 0, 1, 4] = 1.0  # one-hot: symmetric zeros, no offset
    maps[0, 1, 0, 0] = 1.0  # one-hot in the corner: one-sided log fit is convex, kept
    maps[0, 2] = -torch.rand(2, 9)  # non-positive values are clamped before the log
    maps[0, 2, 1, 5] = 0.5
    decoded = log_quadratic_subpixel_decode(maps)
    assert torch.isfinite(decoded).all()
    assert torch.equal(decoded[0, :2], torch.tensor([[1.0, 4.0], [0.0, 0.0]]))
    assert decoded[0, 2, 0] == 1.0  # an axis of two pixels is never refined
    assert (decoded[0, 2, 1] - 5).abs() <= 0.5


def test_log_fit_stays_within_the_argmax_pixel_on_noise():
    maps = torch.rand(3, 4, 9, 10, 11, generator=torch.Generator().manual_seed(6))
    offset = log_quadratic_subpixel_decode(maps) - argmax_decode(maps)
    assert offset.abs().max() <= 0.5
