"""The shared recipe of heatmap methods: a configuration of the heatmap engine.

A subclass names its decoder and lists its defaults; ``fit`` and ``predict`` delegate to
``training.heatmap_regression.HeatmapRegression`` (imported lazily: listing the registry
must not import torch).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from landmarkbench.config import DeclaredSettings, above, at_least, choice
from landmarkbench.datasets.base import Case, LandmarkDataset
from landmarkbench.methods.base import FitContext, Method
from landmarkbench.methods.network_grid import input_shape_problem, working_grid
from landmarkbench.training.choices import LR_SCHEDULES, NETWORKS, TARGETS

# Settings shared by every heatmap method; each method's defaults start from these.
HEATMAP_DEFAULTS = DeclaredSettings(
    {
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
    },
    rules={
        "input_shape": at_least(1, example="64,64"),
        "network": choice(*NETWORKS),
        "channels": at_least(1, nonempty=True, example="16,32,64,128,128"),
        "num_res_units": at_least(0),
        "target": choice(*TARGETS),
        "sigma_px": above(0),
        "heatmap_peak": above(0),
        "max_epochs": at_least(1),
        "batch_size": at_least(1),
        "learning_rate": above(0, example="1e-3"),
        "weight_decay": at_least(0),
        "patience": at_least(1),
        "grad_clip": at_least(0),
        "lr_schedule": choice(*LR_SCHEDULES),
        "ensemble_size": at_least(1),
        "lsa_window": at_least(1, odd=True),
        "lsa_temperature": above(0),
    },
    checks=[input_shape_problem],
)

# Settings that change decoding only: methods that differ in these share trained models.
DECODING_KEYS = frozenset({"lsa_window", "lsa_temperature", "ensemble_size"})


class HeatmapMethod(Method):
    """A heatmap network trained with one objective and decoded by ``decoder``."""

    defaults: ClassVar[dict[str, Any]] = HEATMAP_DEFAULTS
    decoder_keys = DECODING_KEYS
    decoder: ClassVar[str]
    supports_conformal = True

    @classmethod
    def check_planned(cls, config: dict[str, Any], dataset: LandmarkDataset, owner: str) -> None:
        """The network grid must suit the network's depth (see ``network_grid``)."""
        working_grid(config, dataset.network_shape(), dataset.ndim, owner)

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: FitContext) -> dict[str, Any]:
        from landmarkbench.training.heatmap_regression import HeatmapRegression

        self._engine = HeatmapRegression(self.config, self.num_landmarks, self.ndim, self.decoder)
        return self._engine.fit(train, val, ctx)

    def predict(self, cases: Sequence[Case]) -> np.ndarray:
        return self._engine.predict(cases)

    def probability_batches(self, cases: Sequence[Case]) -> Iterator[Any]:
        return self._engine.probability_batches(cases)
