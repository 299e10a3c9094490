"""The indirect (soft-argmax) method: heatmaps decoded differentiably, loss on coordinates."""

from __future__ import annotations

from typing import Any, ClassVar

from landmarkbench.catalog import METHODS
from landmarkbench.config import above, at_least
from landmarkbench.methods.heatmap_method import HEATMAP_DEFAULTS, HeatmapMethod


@METHODS.register("soft_argmax", "Indirect: U-Net maps -> soft-argmax coordinates, L1 loss.")
class SoftArgmaxRegression(HeatmapMethod):
    """A U-Net whose maps are decoded by a soft-argmax over the whole map (max-subtracted,
    ``softmax_temperature``); the loss is the L1 distance of the decoded coordinates to the
    truth on the network grid, so the network learns its own heatmap shape; ``js_weight`` > 0
    adds DSNT's Jensen-Shannon regulariser towards a Gaussian of ``sigma_px`` (see
    ``training/objectives.py``)."""

    decoder = "soft_argmax"
    training_family = "unet_soft_argmax"
    defaults: ClassVar[dict[str, Any]] = HEATMAP_DEFAULTS.extend(
        {
            "target": "coordinates",
            "softmax_temperature": 1.0,
            "learning_rate": 1e-3,
            "js_weight": 0.0,
        },
        rules={"softmax_temperature": above(0), "js_weight": at_least(0)},
    )
