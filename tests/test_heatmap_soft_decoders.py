"""Tests for landmarkbench.heatmaps.soft_decoders: soft-argmax, weighted mean, local soft-argmax."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from landmarkbench.heatmaps.decoders import (
    argmax_decode,
    local_soft_argmax,
    soft_argmax,
    weighted_spatial_mean,
)
from landmarkbench.heatmaps.targets import anisotropic_gaussian_heatmaps, gaussian_heatmaps

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
    # Also logits of Gaussians within 2 px of the low corner (windows completed by the fit).
    near_corner = torch.rand(2, 4, len(shape), generator=torch.Generator().manual_seed(9)) * 2
    gaussian_logits = gaussian_heatmaps(near_corner, shape, 2.0).clamp_min(1e-30).log()
    for maps in (logits, gaussian_logits):
        probabilities = torch.softmax(maps.flatten(2), -1).view(maps.shape)
        for t in (1.0, 10.0):
            torch.testing.assert_close(
                local_soft_argmax(probabilities, 5, t, "probabilities"),
                local_soft_argmax(maps, 5, t, "logits"),
                atol=1e-4,
                rtol=0,
            )
    probabilities = torch.softmax(logits.flatten(2), -1).view(logits.shape)
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


def _clipped_window_reference(maps, window=5, temperature=10.0, input_space="logits"):
    """The local soft-argmax before border completion (clipped, renormalised window), as a
    plain loop-free reference: every window inside the image must still give these bits."""
    spatial = maps.shape[2:]
    d = len(spatial)
    peak = argmax_decode(maps).long()
    half = window // 2
    axes = [torch.arange(-half, half + 1)] * d
    offsets = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
    positions = peak[:, :, None, :] + offsets
    sizes = torch.tensor(spatial)
    inside = ((positions >= 0) & (positions < sizes)).all(dim=-1)
    strides = torch.tensor([math.prod(spatial[k + 1 :]) for k in range(d)])
    clipped = torch.minimum(positions.clamp_min(0), sizes - 1)
    values = maps.flatten(2).gather(-1, (clipped * strides).sum(-1)).float()
    if input_space == "probabilities":
        values = values.clamp_min(torch.finfo(torch.float32).tiny).log()
    logits = (values * temperature).masked_fill(~inside, float("-inf"))
    weights = torch.softmax(logits, dim=-1)
    return peak.float() + (weights[..., None] * offsets.float()).sum(dim=-2)


def _border_grid(shape, depths):
    """Points at each depth from every border, edge and corner (3^d - 1 combinations), and
    the whole-pixel shifts that move each of them to the middle of the map."""
    points, shifts = [], []
    for combo in itertools.product(("low", "high", "middle"), repeat=len(shape)):
        if set(combo) == {"middle"}:
            continue
        for depth in depths:
            point, shift = [], []
            for side, n in zip(combo, shape, strict=True):
                middle = n // 2 - 1
                point.append({"low": depth, "high": n - 1 - depth, "middle": n // 2 + depth}[side])
                shift.append({"low": middle, "high": -middle, "middle": 0}[side])
            points.append(point)
            shifts.append(shift)
    return torch.tensor(points)[None], torch.tensor(shifts, dtype=torch.float32)[None]


BORDER_SETTINGS = {
    "logits_t10": {},  # landmarker's coord_local_soft_argmax defaults on peak-1 Gaussians
    "logits_t1": {"temperature": 1.0},
    "probabilities_t1": {"input_space": "probabilities", "temperature": 1.0},
    "logits_window7": {"window": 7},
}


@pytest.mark.parametrize("settings", BORDER_SETTINGS)
@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0, 5.0])
@pytest.mark.parametrize("shape", [(30, 34), (20, 22, 24)])
def test_local_soft_argmax_has_no_border_bias_on_exact_gaussians(shape, sigma, settings):
    # Centres 0-2 px from every border, edge and corner, in 0.1 px steps (symmetric about
    # 1 px, so the sub-pixel pull toward the argmax pixel that the window has everywhere
    # averages out). Border bias = decoded minus the decoding of the same peak moved by whole
    # pixels into the middle of the map: measured below 4e-6 px (the clipped window: up to
    # 0.77 px). Its mean toward the inside over the grid: below 1e-6 px (clipped: +0.32 px).
    kwargs = BORDER_SETTINGS[settings]
    points, shifts = _border_grid(shape, torch.linspace(0, 2, 21))
    decoded = local_soft_argmax(gaussian_heatmaps(points, shape, sigma), **kwargs)
    interior = local_soft_argmax(gaussian_heatmaps(points + shifts, shape, sigma), **kwargs)
    border_bias = decoded - (interior - shifts)
    assert border_bias.abs().max() <= 0.01
    size = torch.tensor(shape, dtype=torch.float32)
    near = (points <= 2.001) | (points >= size - 3.001)
    inward = torch.where(points < size / 2, 1.0, -1.0)
    assert ((decoded - points) * inward)[near].mean().abs() <= 0.01
    if sigma >= 2:  # the grid tells: the old clipped window fails it
        clipped = _clipped_window_reference(gaussian_heatmaps(points, shape, sigma), **kwargs)
        assert ((clipped - points) * inward)[near].mean() > 0.05


@pytest.mark.parametrize("shape", SHAPES)
def test_local_soft_argmax_away_from_the_border_is_bit_identical_to_the_clipped_window(shape):
    generator = torch.Generator().manual_seed(7)
    points = _points(3, 5, shape, margin=3, seed=7)  # argmax >= 2 px from every border
    gaussians = gaussian_heatmaps(points, shape, 2.5)
    noisy = gaussians + 0.2 * torch.rand(gaussians.shape, generator=generator)
    for maps in (gaussians, noisy, 40 * gaussians):
        for kwargs in BORDER_SETTINGS.values():
            if kwargs.get("window", 5) == 7:
                continue  # a 7-window reaches 3 px: margin 3 keeps the argmax 2.5 px in
            expected = _clipped_window_reference(maps, **kwargs)
            assert torch.equal(local_soft_argmax(maps, **kwargs), expected)
    # Windows of 3 are never completed, and fits that fail keep the clipped window too.
    border = gaussian_heatmaps(torch.zeros(1, 1, len(shape)) + 0.3, shape, 2.0)
    assert torch.equal(local_soft_argmax(border, 3), _clipped_window_reference(border, 3))
    spike = torch.zeros(1, 1, *shape)
    spike[(0, 0, *(0,) * len(shape))] = 1.0
    assert torch.equal(local_soft_argmax(spike, 5, 1.0), _clipped_window_reference(spike, 5, 1.0))


@pytest.mark.parametrize("shape", SHAPES)
def test_local_soft_argmax_completion_is_robust_on_network_like_maps(shape):
    # Noisy, negative, flat and rotated peaks on the border: finite, in the image, within a
    # pixel of the clipped window's answer, and differentiable.
    d = len(shape)
    generator = torch.Generator().manual_seed(8)
    points = torch.rand(4, 6, d, generator=generator) * 2  # near the low corner
    points[1] = torch.tensor(shape, dtype=torch.float32) - 1 - points[1]
    gaussians = gaussian_heatmaps(points, shape, 2.0)
    noise = torch.randn(gaussians.shape, generator=generator)
    plateau = gaussians.clamp_max(0.8)
    angles = 0.7 if d == 2 else torch.tensor([0.7, 0.3, -0.4])
    rotated = anisotropic_gaussian_heatmaps(
        points, shape, torch.tensor([[1.5, 3.0, 2.0][:d]]), angles
    )
    for maps in (gaussians + 0.05 * noise, gaussians - 0.3, plateau, noise, rotated):
        maps = maps.clone().requires_grad_()
        decoded = local_soft_argmax(maps, 5, 1.0)
        assert torch.isfinite(decoded).all()
        assert (decoded >= 0).all() and (decoded <= torch.tensor(shape) - 1).all()
        reference = _clipped_window_reference(maps.detach(), 5, 1.0)
        assert (decoded - reference).abs().max() <= 1.0
        decoded.sum().backward()
        assert torch.isfinite(maps.grad).all()
    # A rotated exact Gaussian at the border decodes as it does inside the map (cross terms),
    # up to the clamp into the image.
    shift = torch.full((d,), 6.0)
    rotated_inside = anisotropic_gaussian_heatmaps(
        points[:1] + shift, shape, torch.tensor([[1.5, 3.0, 2.0][:d]]), angles
    )
    moved_back = (local_soft_argmax(rotated_inside, 5, 1.0) - shift).clamp_min(0)
    assert (local_soft_argmax(rotated[:1], 5, 1.0) - moved_back).abs().max() < 1e-3
