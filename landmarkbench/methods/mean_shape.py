"""The floor every method must beat: predict the training set's mean landmark layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from landmarkbench.catalog import METHODS
from landmarkbench.datasets.base import Case
from landmarkbench.methods.base import FitContext, Method


def _relative(points: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Points as fractions of the image extent (pixel-centre convention)."""
    return (points + 0.5) / np.asarray(shape, dtype=float)


def _absolute(fractions: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    return fractions * np.asarray(shape, dtype=float) - 0.5


@METHODS.register("mean_shape", "Baseline: predicts the training mean shape (the floor).")
class MeanShape(Method):
    """Predicts, for every image, the mean training landmark positions.

    Positions are averaged as fractions of the image extent, so images of different sizes
    share one mean layout. Missing (NaN) training landmarks are ignored.
    """

    defaults: ClassVar[dict[str, Any]] = {}

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: FitContext) -> dict[str, Any]:
        stacked = np.stack([_relative(c.landmarks, c.shape) for c in train])
        self.mean_fraction = np.nanmean(stacked, axis=0)
        return {"n_train": len(train)}

    def predict(self, cases: Sequence[Case]) -> np.ndarray:
        return np.stack([_absolute(self.mean_fraction, c.shape) for c in cases])
