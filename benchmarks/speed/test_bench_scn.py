"""SCN training step, ours vs landmarker's OriginalSpatialConfigurationNet (CPU, float32).

One step is forward, MSE loss to a fixed random target, backward and an SGD step (Nesterov
momentum 0.99, weight decay 1e-3: the reference optimiser) on one 1-channel 256x256 image with
19 landmarks. The two nets have the same parameter count within 1 % and the same spatial
configuration branch (128 filters, 11x11 kernels, downsampling 16):

- ours: the cephalogram reference, 4 levels of 128 filters (5,757,734 parameters);
- landmarker: ``la_depth=2``, 128 channels (5,738,278 parameters). Its ``la_depth`` counts the
  levels below the bottleneck and it puts a conv on every skip, so depth 2 is the depth whose
  size matches ours (its default depth 3 has 6,181,030 parameters, 7 % more than ours).
"""

from __future__ import annotations

import pytest
import torch
from conftest import import_landmarker
from torch import nn

from landmarkbench.models.scn import SpatialConfigurationNet, count_parameters

LANDMARKS, SHAPE = 19, (256, 256)
FILTERS = 128
OURS_LEVELS = 4
LANDMARKER_DEPTH = 2
SIZE_TOLERANCE = 0.01
# About 1 s (ours) and 1.5 s (landmarker) a step on 2 free cores: a group stays under a minute.
ROUNDS = {"rounds": 5, "iterations": 1, "warmup_rounds": 1}
GROUP = "models: SCN train step 1x1x256x256, 19 maps"
_medians: dict[str, float] = {}


def _training_step(model: nn.Module):
    """A closure running one full training step of ``model`` on fixed random data."""
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(1, 1, *SHAPE, generator=generator)
    target = torch.rand(1, LANDMARKS, *SHAPE, generator=generator)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=1e-6, momentum=0.99, nesterov=True, weight_decay=1e-3
    )
    model.train()

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(image), target)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _ours() -> nn.Module:
    torch.manual_seed(0)
    return SpatialConfigurationNet(2, 1, LANDMARKS, filters=FILTERS, levels=OURS_LEVELS)


def _landmarker() -> nn.Module:
    module = import_landmarker("landmarker.models.spatial_configuration_net")
    torch.manual_seed(0)
    return module.OriginalSpatialConfigurationNet(
        in_channels=1,
        out_channels=LANDMARKS,
        la_channels=FILTERS,
        la_depth=LANDMARKER_DEPTH,
        sp_channels=FILTERS,
        sp_kernel_size=11,
        sp_downsample=16,
    )


def _median(benchmark) -> float:
    stats = getattr(benchmark.stats, "stats", benchmark.stats)  # differs across plugin versions
    return stats.median


@pytest.mark.benchmark(group=GROUP)
def test_scn_train_step_ours(benchmark):
    model = _ours()
    loss = benchmark.pedantic(_training_step(model), **ROUNDS)
    assert loss == loss  # not NaN
    _medians["ours"] = _median(benchmark)
    benchmark.extra_info["parameters"] = count_parameters(model)


@pytest.mark.benchmark(group=GROUP)
def test_scn_train_step_landmarker(benchmark):
    theirs, ours = count_parameters(_landmarker()), count_parameters(_ours())
    print(f"\n{GROUP}: parameters ours {ours:,}, landmarker {theirs:,}")
    assert abs(ours - theirs) <= SIZE_TOLERANCE * theirs
    model = _landmarker()
    loss = benchmark.pedantic(_training_step(model), **ROUNDS)
    assert loss == loss
    benchmark.extra_info["parameters"] = theirs
    if "ours" in _medians:
        ratio = _median(benchmark) / _medians["ours"]
        benchmark.extra_info["ratio_landmarker_over_ours"] = ratio
        print(f"{GROUP}: median step landmarker / ours = {ratio:.2f}")
