"""The indirect (soft-argmax) method's Jensen-Shannon regulariser (``js_weight``, DSNT):
the L1 loss on decoded coordinates cannot tell a map with one peak from a spread map with the
same mean; the divergence towards a Gaussian at the truth can."""

from __future__ import annotations

import math

import torch

from landmarkbench.heatmaps.targets import gaussian_heatmaps
from landmarkbench.methods.indirect import SoftArgmaxRegression
from landmarkbench.training.objectives import HeatmapObjective

SHAPE = (32, 32)
TRUTH = torch.tensor([[[[16.0, 16.0]]]])  # (B, C, K, d)


def _objective(js_weight: float) -> HeatmapObjective:
    method = SoftArgmaxRegression({"js_weight": js_weight}, num_landmarks=1, ndim=2)
    return HeatmapObjective("coordinates", method.config, 1, 2)


def _two_peaks() -> torch.Tensor:
    """Logits with two equal peaks mirrored about the truth: soft-argmax mean = truth."""
    points = torch.tensor([[[16.0, 6.0], [16.0, 26.0]]])
    mass = gaussian_heatmaps(points, SHAPE, 1.5).sum(1, keepdim=True)
    return torch.log(mass + 1e-12)


def test_a_spread_map_with_the_right_mean_passes_l1_but_not_the_divergence() -> None:
    maps = _two_peaks()
    assert float(_objective(0.0)(maps, TRUTH)) < 1e-3  # the L1 loss sees nothing wrong
    divergence = float(_objective(1.0)(maps, TRUTH))
    assert 0.5 < divergence <= math.log(2) + 1e-6  # nearly disjoint from the Gaussian


def test_the_gaussian_at_the_truth_is_the_minimum() -> None:
    sigma = _objective(1.0).config.sigma_px
    maps = torch.log(gaussian_heatmaps(TRUTH[:, :, 0], SHAPE, sigma) + 1e-30)
    assert float(_objective(1.0)(maps, TRUTH)) < 1e-4
    shifted = torch.log(gaussian_heatmaps(TRUTH[:, :, 0] + 3.0, SHAPE, sigma) + 1e-30)
    assert float(_objective(1.0)(shifted, TRUTH)) > float(_objective(0.0)(shifted, TRUTH)) > 5


def test_a_missing_landmark_adds_nothing() -> None:
    maps = _two_peaks()
    missing = torch.full_like(TRUTH, float("nan"))
    assert float(_objective(1.0)(maps, missing)) == 0.0


def test_training_a_free_map_forms_one_peak_only_with_the_divergence() -> None:
    """From the two-peak start, L1 alone has no gradient to merge the peaks; with the
    divergence the map's largest probability grows towards the Gaussian's."""

    def peak_after(js_weight: float) -> float:
        maps = _two_peaks().clone().requires_grad_(True)
        objective = _objective(js_weight)
        optimizer = torch.optim.Adam([maps], lr=0.2)
        for _ in range(100):
            loss = objective(maps, TRUTH)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return float(torch.softmax(maps.detach().flatten(), 0).max())

    start = float(torch.softmax(_two_peaks().flatten(), 0).max())  # each peak: about 0.035
    plain, regularised = peak_after(0.0), peak_after(1.0)
    assert plain < 1.1 * start and regularised > 2.5 * start, (start, plain, regularised)
