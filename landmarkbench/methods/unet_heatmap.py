"""Heatmap regression with a MONAI U-Net and static Gaussian targets (L2 loss).

The registered methods share this recipe and differ only in how a heatmap becomes points:
``argmax`` (integer peak), ``subpixel`` (peak refined by a per-axis quadratic fit), and, for
multi-instance data, ``peak_heatmap`` (every peak above a threshold, non-maximum suppressed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from landmarkbench.catalog import METHODS
from landmarkbench.datasets.base import Case
from landmarkbench.methods.base import FitContext, Method

HEATMAP_UNET_DEFAULTS: dict[str, Any] = {
    # Network grid (multiples of 16); empty = the dataset's recommended working grid.
    "input_shape": (),
    "channels": (16, 32, 64, 128, 128),
    "num_res_units": 1,
    # Gaussian target on the network grid: standard deviation in pixels and peak height.
    "sigma_px": 1.5,
    "heatmap_peak": 10.0,
    # Optimisation (sized for a CPU; raise max_epochs on a GPU).
    "max_epochs": 25,
    "batch_size": 4,
    "learning_rate": 2e-3,
    "weight_decay": 1e-5,
    "patience": 12,
    "grad_clip": 10.0,
    "lr_schedule": "plateau",
    "augment": True,
    # Mixed precision on CUDA (no effect on the CPU).
    "amp": True,
}


class _HeatmapUNet(Method):
    """Shared implementation; subclasses pick the decoder."""

    defaults = HEATMAP_UNET_DEFAULTS
    training_family = "unet_gaussian_heatmap"
    decoder: ClassVar[str]

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: FitContext) -> dict[str, Any]:
        from landmarkbench.training.heatmap_regression import HeatmapRegression

        self._engine = HeatmapRegression(self.config, self.num_landmarks, self.ndim, self.decoder)
        return self._engine.fit(train, val, ctx)

    def predict(self, cases: Sequence[Case]) -> np.ndarray:
        return self._engine.predict(cases)


@METHODS.register("argmax", "U-Net regressing static Gaussian heatmaps (L2), argmax decoding.")
class ArgmaxHeatmapUNet(_HeatmapUNet):
    """U-Net heatmap regression decoded by the integer argmax (up to 0.5 px per axis)."""

    decoder = "argmax"


@METHODS.register("subpixel", "U-Net Gaussian heatmaps (L2), argmax refined by a quadratic fit.")
class SubpixelHeatmapUNet(_HeatmapUNet):
    """U-Net heatmap regression decoded by argmax plus per-axis quadratic refinement."""

    decoder = "subpixel"


@METHODS.register(
    "peak_heatmap", "Multi-instance: U-Net Gaussian heatmaps per class, peaks by NMS (L2)."
)
class PeakHeatmapUNet(_HeatmapUNet):
    """U-Net heatmaps for multi-instance data: each class map's peaks above a threshold.

    The target of a class is the maximum of Gaussians at its instances (an empty class has
    an all-zero target); peaks are local maxima above ``peak_threshold`` x ``heatmap_peak``,
    kept more than ``nms_radius_px`` apart.
    """

    decoder = "peaks"
    multi_instance = True
    training_family = "unet_gaussian_heatmap_multi_instance"
    decoder_keys = frozenset({"peak_threshold", "nms_radius_px"})
    defaults: ClassVar[dict[str, Any]] = {
        **HEATMAP_UNET_DEFAULTS,
        # Wider targets and a longer schedule: thin instruments, few cases per class.
        "sigma_px": 2.0,
        "max_epochs": 50,
        "patience": 15,
        "peak_threshold": 0.25,
        "nms_radius_px": 4.0,
    }
