"""The U-Net Gaussian objective must not pull a channel that cannot yet localise its
landmark to the all-zero map (the collapse seen on real ISBI X-rays, issue 12).

A free map shared by all cases stands for a network that does not yet see where the
landmark is: the landmark jitters across cases, so the map can only learn where it tends
to be. Under plain L2 its optimum is the mean target, a few percent of the peak (the
all-zero basin); with ``foreground_weight=50`` a clear peak forms.
"""

from __future__ import annotations

import torch

from landmarkbench.methods.unet_heatmap import SubpixelHeatmapUNet
from landmarkbench.training.objectives import HeatmapObjective


def _objective(foreground_weight: float) -> HeatmapObjective:
    method = SubpixelHeatmapUNet({"foreground_weight": foreground_weight}, num_landmarks=1, ndim=2)
    return HeatmapObjective("gaussian", method.config, 1, 2)


def _peak_after_training(foreground_weight: float, steps: int = 300) -> float:
    torch.manual_seed(0)
    objective = _objective(foreground_weight)
    shared = torch.zeros(1, 1, 32, 32, requires_grad=True)
    optimizer = torch.optim.Adam([shared], lr=0.05)
    for _ in range(steps):
        # 16 cases, landmark jittered by up to 6 px around (16, 16).
        points = 16.0 + torch.randint(-6, 7, (16, 1, 1, 2)).float()
        loss = objective(shared.expand(16, -1, -1, -1), points)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(shared.detach().max())


def test_sparse_channel_forms_a_peak_with_the_foreground_weight():
    peak = _objective(50.0).config.heatmap_peak
    assert _peak_after_training(50.0) > 0.3 * peak


def test_plain_l2_collapses_toward_zero():
    """The old behaviour, kept measurable: plain L2 leaves the channel nearly flat."""
    peak = _objective(0.0).config.heatmap_peak
    assert _peak_after_training(0.0) < 0.1 * peak


def test_exact_target_is_still_the_minimum():
    objective = _objective(50.0)
    points = torch.tensor([[[[10.0, 12.0]]]])
    from landmarkbench.heatmaps.targets import gaussian_heatmaps

    target = objective.config.heatmap_peak * gaussian_heatmaps(points[:, :, 0], (32, 32), 1.5)
    assert float(objective(target, points)) < 1e-8
    assert float(objective(target + 0.1, points)) > 0
