"""Our local soft-argmax against landmarker's: equal away from borders, unbiased near them.

Skipped when landmarker (the optional ``compare`` extra) is not importable. landmarker's
``coord_local_soft_argmax(heatmap, window, t)`` takes ``softmax(t * h)`` of the raw map values
in the window, i.e. our ``input_space="logits"`` with ``temperature=t``; it zero-pads the map,
so pixels outside the image enter its window as logits 0.
"""

from __future__ import annotations

import importlib

import pytest
import torch

from landmarkbench.heatmaps.decoders import local_soft_argmax
from landmarkbench.heatmaps.targets import gaussian_heatmaps

try:
    landmarker_decoder = importlib.import_module("landmarker.heatmap.decoder")
except Exception as exc:  # ImportError, or a missing optional dependency inside it
    pytest.skip(f"landmarker is not importable ({exc})", allow_module_level=True)

SHAPES = [(32, 36), (18, 20, 22)]


def _landmarker(maps: torch.Tensor, window: int, t: float) -> torch.Tensor:
    spatial_dims = maps.ndim - 2
    coords = landmarker_decoder.coord_local_soft_argmax(maps, window, t, spatial_dims)
    return coords.to(maps.dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("window", [3, 5])
def test_equal_to_landmarker_more_than_a_window_from_the_border(shape, window):
    generator = torch.Generator().manual_seed(window + len(shape))
    margin = window + 1
    low = torch.full((len(shape),), float(margin))
    high = torch.tensor(shape, dtype=torch.float32) - 1 - margin
    points = low + torch.rand(2, 4, len(shape), generator=generator) * (high - low)
    noise = 0.05 * torch.rand(2, 4, *shape, generator=generator)
    maps = gaussian_heatmaps(points, shape, 2.0) + noise  # peak-1 maps, as landmarker uses
    ours = local_soft_argmax(maps, window=window, temperature=10.0, input_space="logits")
    theirs = _landmarker(maps, window, 10.0)
    assert (ours - theirs).abs().max() < 1e-4  # measured: below 2e-6 px


def _near_border_points(shape: tuple[int, ...]) -> torch.Tensor:
    """Landmarks 0.25 to 1.45 px from the first or last pixel along axis 0 (the argmax is then
    within 1 px of the border, so a 5-wide window sticks out), inside along the other axes."""
    depth = torch.tensor([0.25, 0.5, 0.75, 1.0, 1.25, 1.45])
    first = depth
    last = shape[0] - 1 - depth
    axis0 = torch.cat([first, last])
    rest = torch.tensor([s / 2 + 0.3 for s in shape[1:]]).expand(len(axis0), -1)
    return torch.cat([axis0[:, None], rest], dim=-1)[None]  # (1, 12, d)


@pytest.mark.parametrize("shape", SHAPES)
def test_unbiased_near_the_border_where_landmarker_is_pulled_toward_it(shape):
    # Log-probability logits (all negative, as from a spatial log-softmax) of a sigma-1
    # Gaussian: softmax(t z) is a Gaussian of sigma 1 / sqrt(t) around the true point.
    points = _near_border_points(shape)
    logits = gaussian_heatmaps(points, shape, 1.0).log() - 3.0
    ours = local_soft_argmax(logits, window=5, temperature=4.0, input_space="logits")
    theirs = _landmarker(logits, 5, 4.0)
    our_error = ours - points
    their_error = theirs - points
    # Measured: ours within 0.026 px on every axis (the same error as in the interior at the
    # same sub-pixel phase); landmarker 1.5 to 2.5 px off along axis 0, toward the border.
    assert our_error.abs().max() < 0.03
    toward_border = torch.where(points[..., 0] < shape[0] / 2, -1.0, 1.0)
    assert (their_error[..., 0] * toward_border).min() > 1.0
    # Same input as probabilities (p = exp(z)): ours gives the same unbiased answer.
    as_probabilities = local_soft_argmax(logits.exp(), 5, 4.0, "probabilities")
    torch.testing.assert_close(as_probabilities, ours, atol=1e-4, rtol=0)


@pytest.mark.parametrize("shape", SHAPES)
def test_near_border_error_matches_interior_error_at_the_same_subpixel_phase(shape):
    # The local soft-argmax has a small sub-pixel error of its own (a sampled, windowed
    # Gaussian); near the border ours adds little to it (measured: at most 0.045 px, at
    # 0.25 px from the edge where the clipped window truncates the weights; < 0.014 px from
    # 0.5 px on).
    points = _near_border_points(shape)
    inward = torch.where(points[..., 0] < shape[0] / 2, 6.0, -6.0)
    interior = points.clone()
    interior[..., 0] += inward
    border_error = local_soft_argmax(gaussian_heatmaps(points, shape, 1.0).log(), 5, 4.0)
    interior_error = local_soft_argmax(gaussian_heatmaps(interior, shape, 1.0).log(), 5, 4.0)
    difference = (border_error - points) - (interior_error - interior)
    assert difference.abs().max() < 0.05
