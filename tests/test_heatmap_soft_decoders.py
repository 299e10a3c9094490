"""Tests for landmarkbench.heatmaps.soft_decoders: soft-argmax, weighted mean, local soft-argmax."""

from __future__ import annotations

import pytest
import torch

from landmarkbench.heatmaps.decoders import (
    argmax_decode,
    local_soft_argmax,
    soft_argmax,
    weighted_spatial_mean,
)
from landmarkbench.heatmaps.targets import gaussian_heatmaps

SHAPES = [(20, 24), (12, 14, 16)]
SOFT_DECODERS = {
    "soft_argmax": soft_argmax,
    "weighted_spatial_mean_relu": weighted_spatial_mean,
    "weighted_spatial_mean_none": lambda maps: weighted_spatial_mean(maps, "none"),
    "local_soft_argmax_logits": local_soft_argmax,
    "local_soft_argmax_probabilities": lambda maps: local_soft_argmax(
        maps, input_space="probabilities"
    ),
}


def _points(batch, channels, shape, margin, seed):
    generator = torch.Generator().manual_seed(seed)
    low = torch.full((len(shape),), float(margin))
    high = torch.tensor(shape, dtype=torch.float32) - 1 - margin
    return low + torch.rand(batch, channels, len(shape), generator=generator) * (high - low)


def _centre(shape):
    return torch.tensor([(s - 1) / 2 for s in shape])


@pytest.mark.parametrize("name", SOFT_DECODERS)
@pytest.mark.parametrize("shape", SHAPES)
def test_contract_shape_dtype_and_integer_peaks(name, shape):
    decoder = SOFT_DECODERS[name]
    points = _points(2, 3, shape, margin=3, seed=1).round()
    maps = gaussian_heatmaps(points, shape, 1.0) ** 8  # sharp, symmetric around the pixel
    if name == "soft_argmax":
        maps = 50 * maps  # as logits: sharp enough that the far pixels weigh nothing
    decoded = decoder(maps)
    assert decoded.shape == (2, 3, len(shape)) and decoded.dtype == torch.float32
    torch.testing.assert_close(decoded, points, atol=1e-4, rtol=0)
    assert decoder(maps.double()).dtype == torch.float64


@pytest.mark.parametrize("name", SOFT_DECODERS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fill", [0.0, 1.0, -3.0])
def test_zero_and_constant_maps_give_finite_documented_results(name, shape, fill):
    decoded = SOFT_DECODERS[name](torch.full((2, 3, *shape), fill))
    assert torch.isfinite(decoded).all()
    first_pixel = torch.zeros(len(shape))
    if name == "soft_argmax":
        expected = _centre(shape)  # uniform softmax
    elif name.startswith("weighted_spatial_mean"):
        expected = _centre(shape) if fill > 0 else first_pixel  # no mass: the argmax
    else:
        expected = torch.ones(len(shape))  # window at the first pixel, clipped to 0..2
    torch.testing.assert_close(decoded, expected.expand_as(decoded), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", SOFT_DECODERS)
@pytest.mark.parametrize("shape", SHAPES)
def test_peaks_on_the_border_stay_inside_the_map(name, shape):
    # A one-hot peak in every corner-ish border position: coordinates stay in the image.
    d = len(shape)
    maps = torch.zeros(1, 2, *shape)
    maps[(0, 0, *(0,) * d)] = 5.0
    maps[(0, 1, *(s - 1 for s in shape))] = 5.0
    decoded = SOFT_DECODERS[name](maps)
    assert torch.isfinite(decoded).all()
    assert (decoded >= 0).all() and (decoded <= torch.tensor(shape) - 1).all()
    if name != "soft_argmax":
        torch.testing.assert_close(decoded[0, 1], torch.tensor(shape) - 1.0, atol=1e-3, rtol=0)


@pytest.mark.parametrize("shape", SHAPES)
def test_soft_argmax_recovers_sharp_gaussian_logits(shape):
    points = _points(3, 4, shape, margin=5, seed=2)
    logits = gaussian_heatmaps(points, shape, 1.2).log()  # softmax(log g) = g / sum g
    assert (soft_argmax(logits) - points).abs().max() < 0.01
    # Temperature t scales the logits: 2 log g is a Gaussian of sigma 1.2 / sqrt(2).
    assert (soft_argmax(logits, temperature=2.0) - points).abs().max() < 1e-3


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_soft_argmax_is_finite_and_differentiable_at_huge_logits(shape, scale):
    generator = torch.Generator().manual_seed(3)
    logits = (torch.rand(2, 3, *shape, generator=generator) * scale).requires_grad_()
    decoded = soft_argmax(logits, temperature=1.0)
    assert torch.isfinite(decoded).all()
    assert (decoded >= 0).all() and (decoded <= torch.tensor(shape) - 1).all()
    decoded.sum().backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("shape", SHAPES)
def test_soft_argmax_collapses_onto_a_dominant_huge_logit(shape):
    points = _points(2, 3, shape, margin=0, seed=4).round()
    logits = -1e4 * torch.rand(2, 3, *shape, generator=torch.Generator().manual_seed(5))
    index = (*torch.meshgrid(torch.arange(2), torch.arange(3), indexing="ij"),)
    logits[(*index, *points.long().unbind(-1))] = 1e4
    logits.requires_grad_()
    decoded = soft_argmax(logits, temperature=10.0)
    torch.testing.assert_close(decoded, points, atol=1e-4, rtol=0)
    decoded.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_soft_argmax_gradient_moves_the_coordinate_toward_the_raised_pixel():
    logits = torch.zeros(1, 1, 5, 5, requires_grad=True)
    soft_argmax(logits)[0, 0, 1].backward()  # column coordinate
    grad = logits.grad[0, 0]
    assert (grad[:, 4] > 0).all() and (grad[:, 0] < 0).all()


@pytest.mark.parametrize("shape", SHAPES)
def test_weighted_spatial_mean_recovers_gaussians_and_ignores_negatives(shape):
    points = _points(2, 3, shape, margin=5, seed=4)
    maps = gaussian_heatmaps(points, shape, 1.0)
    assert (weighted_spatial_mean(maps) - points).abs().max() < 1e-3
    # Negative values in the far tail (where the Gaussian is below 1e-9) change nothing.
    specks = (torch.rand(maps.shape, generator=torch.Generator().manual_seed(5)) < 0.5) & (
        maps < 1e-9
    )
    with_specks = torch.where(specks, torch.full_like(maps, -10.0), maps)
    torch.testing.assert_close(weighted_spatial_mean(with_specks), weighted_spatial_mean(maps))
    assert not torch.allclose(weighted_spatial_mean(with_specks, "none"), points, atol=0.1)


def test_weighted_spatial_mean_falls_back_to_argmax_without_mass_and_keeps_gradients():
    maps = torch.stack([-torch.rand(6, 7), torch.zeros(6, 7)])[None].requires_grad_()
    decoded = weighted_spatial_mean(maps)
    torch.testing.assert_close(decoded, argmax_decode(maps.detach()))
    decoded.sum().backward()
    assert torch.isfinite(maps.grad).all()
    none = weighted_spatial_mean(-torch.ones(1, 1, 4, 4), activation="none")
    assert torch.equal(none, torch.zeros(1, 1, 2))  # negative mass: argmax (first pixel)


@pytest.mark.parametrize("shape", SHAPES)
def test_local_soft_argmax_probabilities_match_logits(shape):
    logits = torch.randn(2, 3, *shape, generator=torch.Generator().manual_seed(5)) * 3
    probabilities = torch.softmax(logits.flatten(2), -1).view(logits.shape)
    for t in (1.0, 10.0):
        torch.testing.assert_close(
            local_soft_argmax(probabilities, 5, t, "probabilities"),
            local_soft_argmax(logits, 5, t, "logits"),
            atol=1e-4,
            rtol=0,
        )
    # Logits are shift invariant, probabilities scale invariant, also at the border.
    torch.testing.assert_close(local_soft_argmax(logits + 7.0), local_soft_argmax(logits))
    torch.testing.assert_close(
        local_soft_argmax(probabilities * 100, input_space="probabilities"),
        local_soft_argmax(probabilities, input_space="probabilities"),
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_local_soft_argmax_clips_the_window_at_the_border(shape):
    # Hand-computed: logits 0 at the corner and 0 on the next pixel of axis 0, window 3,
    # clipped to the 2^d corner pixels: mean of the two equal-weight pixels on axis 0.
    d = len(shape)
    logits = torch.full((1, 1, *shape), -1e4)
    logits[(0, 0, *(0,) * d)] = 0.0
    logits[(0, 0, 1, *(0,) * (d - 1))] = 0.0
    decoded = local_soft_argmax(logits, window=3, temperature=1.0)
    expected = torch.zeros(1, 1, d)
    expected[0, 0, 0] = 0.5
    torch.testing.assert_close(decoded, expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_local_soft_argmax_window_one_is_argmax_and_gradients_flow(shape):
    maps = torch.rand(2, 3, *shape, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(local_soft_argmax(maps, window=1), argmax_decode(maps))
    maps.requires_grad_()
    local_soft_argmax(maps, window=7, temperature=3.0).sum().backward()
    assert torch.isfinite(maps.grad).all() and (maps.grad != 0).sum() > 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: soft_argmax(m, temperature=0.0), "Temperature"),
        (lambda m: local_soft_argmax(m, window=4), "odd"),
        (lambda m: local_soft_argmax(m, input_space="logit"), "Input space"),
        (lambda m: weighted_spatial_mean(m, activation="softmax"), "Activation"),
        (lambda m: soft_argmax(m[0, 0]), r"\(B, C, \*spatial\)"),
    ],
)
def test_invalid_arguments_are_rejected_with_a_sentence(call, message):
    with pytest.raises(ValueError, match=message):
        call(torch.zeros(1, 1, 5, 5))


@pytest.mark.parametrize("name", SOFT_DECODERS)
def test_one_spatial_axis_is_supported(name):
    points = torch.tensor([[[7.0], [0.0], [29.0]]])
    maps = gaussian_heatmaps(points, (30,), 1.0) ** 8
    if name == "soft_argmax":
        maps = 50 * maps
    decoded = SOFT_DECODERS[name](maps)
    assert decoded.shape == (1, 3, 1) and torch.isfinite(decoded).all()
    torch.testing.assert_close(decoded[0, 0], points[0, 0], atol=1e-4, rtol=0)
