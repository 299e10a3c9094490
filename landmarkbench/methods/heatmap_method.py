"""The shared recipe of heatmap methods: a configuration of the heatmap engine.

A subclass names its decoder and lists its defaults; ``fit`` and ``predict`` delegate to
``training.heatmap_regression.HeatmapRegression`` (imported lazily: listing the registry
must not import torch).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from landmarkbench.datasets.base import Case
from landmarkbench.methods.base import FitContext, Method

# Settings shared by every heatmap method; each method's defaults start from these.
HEATMAP_DEFAULTS: dict[str, Any] = {
    # Network grid (multiples of 16); empty = the dataset's recommended working grid.
    "input_shape": (),
    "network": "unet",
    "channels": (16, 32, 64, 128, 128),
    "num_res_units": 1,
    # Target: "gaussian" (static), "adaptive_gaussian", "onehot" or "coordinates".
    "target": "gaussian",
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
    # Members trained with different seeds; their logits are averaged before decoding.
    "ensemble_size": 1,
    # Local soft-argmax decoding: window (pixels) and temperature on the map values.
    "lsa_window": 5,
    "lsa_temperature": 1.0,
}

# Settings that change decoding only: methods that differ in these share trained models.
DECODING_KEYS = frozenset({"lsa_window", "lsa_temperature", "ensemble_size"})


class HeatmapMethod(Method):
    """A heatmap network trained with one objective and decoded by ``decoder``."""

    defaults: ClassVar[dict[str, Any]] = HEATMAP_DEFAULTS
    decoder_keys = DECODING_KEYS
    decoder: ClassVar[str]
    supports_conformal = True

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: FitContext) -> dict[str, Any]:
        from landmarkbench.training.heatmap_regression import HeatmapRegression

        self._engine = HeatmapRegression(self.config, self.num_landmarks, self.ndim, self.decoder)
        return self._engine.fit(train, val, ctx)

    def predict(self, cases: Sequence[Case]) -> np.ndarray:
        return self._engine.predict(cases)

    def probability_batches(self, cases: Sequence[Case]) -> Iterator[Any]:
        return self._engine.probability_batches(cases)
