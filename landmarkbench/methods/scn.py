"""Spatial Configuration Net methods: static and adaptive (learnable) Gaussian targets."""

from __future__ import annotations

from typing import Any, ClassVar

from landmarkbench.catalog import METHODS
from landmarkbench.config import Rule, above, at_least
from landmarkbench.methods.heatmap_method import HEATMAP_DEFAULTS, HeatmapMethod

SCN_DEFAULTS = HEATMAP_DEFAULTS.extend(
    {
        "network": "scn",
        # Scaled for a CPU (the reference uses 128 filters at 512 x 512, see methods.md).
        "scn_filters": 48,
        "scn_levels": 4,
        "scn_dropout": 0.5,
        "scn_downsample": 16,
        # Spatial-configuration kernel; 0 = the network's default (11 in 2D, smaller in 3D).
        "scn_kernel": 0,
        "learning_rate": 1e-3,
    },
    rules={
        "scn_filters": at_least(1),
        "scn_levels": at_least(1),
        "scn_dropout": Rule(minimum=0, maximum=1, exclusive_maximum=True),
        "scn_downsample": at_least(1),
        "scn_kernel": Rule(minimum=1, odd=True, zero_means="the network's default"),
    },
)


@METHODS.register("scn", "Spatial Configuration Net, static Gaussian heatmaps (L2).")
class SCNGaussian(HeatmapMethod):
    """SCN (local appearance x spatial configuration, Payer et al. 2019) regressing static
    Gaussian heatmaps; decoded by a local soft-argmax."""

    decoder = "local_soft_argmax"
    training_family = "scn_gaussian_heatmap"
    defaults: ClassVar[dict[str, Any]] = SCN_DEFAULTS


@METHODS.register(
    "adaptive_gaussian", "SCN with learnable anisotropic rotated Gaussian targets + sigma penalty."
)
class SCNAdaptiveGaussian(HeatmapMethod):
    """SCN regressing learnable anisotropic, rotated Gaussians (gamma-normalised), with the
    penalty ``alpha * sum_i prod_k sigma_ik``; missing landmarks are masked out of the loss.
    The learned sigmas and angles per landmark are stored in each fold's fit summary."""

    decoder = "local_soft_argmax"
    training_family = "scn_adaptive_gaussian"
    defaults: ClassVar[dict[str, Any]] = SCN_DEFAULTS.extend(
        {"target": "adaptive_gaussian", "sigma_px": 2.0, "gamma": 100.0, "alpha": 5.0},
        rules={"gamma": above(0), "alpha": at_least(0)},
    )
