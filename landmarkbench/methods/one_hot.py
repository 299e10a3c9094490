"""One-hot heatmap regression and the one-hot ensemble (Jonkers et al. 2025)."""

from __future__ import annotations

from typing import Any, ClassVar

from landmarkbench.catalog import METHODS
from landmarkbench.methods.heatmap_method import HEATMAP_DEFAULTS, HeatmapMethod

ONE_HOT_DEFAULTS = HEATMAP_DEFAULTS.extend(
    {"target": "onehot", "learning_rate": 1e-3, "lsa_window": 5, "lsa_temperature": 1.0}
)


class _OneHot(HeatmapMethod):
    # Members are trained alike whatever ``ensemble_size`` is (a decoding key), so the
    # single model is the ensemble's first member: it is trained once.
    training_family = "unet_onehot"
    decoder = "local_soft_argmax"


@METHODS.register("one_hot", "U-Net logits, spatial-softmax NLL of one-hot targets.")
class OneHot(_OneHot):
    """Per landmark a logit map, spatial softmax, negative log-likelihood of the landmark's
    (rounded) pixel; decoded by a softmax in a window around the peak."""

    defaults: ClassVar[dict[str, Any]] = ONE_HOT_DEFAULTS


@METHODS.register("one_hot_ensemble", "Ensemble of one-hot models: averaged logits, then decode.")
class OneHotEnsemble(_OneHot):
    """``ensemble_size`` one-hot models trained with different seeds; their logits are
    averaged, then the spatial softmax is decoded (Jonkers et al. 2025)."""

    defaults: ClassVar[dict[str, Any]] = ONE_HOT_DEFAULTS.extend({"ensemble_size": 5})
