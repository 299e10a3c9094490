"""What predict needs of a trained model, wherever it comes from (a stored run's models or
an exported file): its landmarks, its data's dimension, a sentence saying what it is, and
``predict`` (points on each case's original grid)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from landmarkbench.datasets.base import Case


class Predictor(ABC):
    """A trained model ready to predict.

    Attributes:
        landmark_names: Output landmarks (classes for multi-instance models), in order.
        ndim: Spatial dimension of the images it takes.
        multi_instance: True when it predicts a variable number of points per class.
        statement: One sentence naming the model, e.g. fold ``fold_0``'s model or a
            cross-validation ensemble of 3 fold models.
        dataset_spacing_mm: The spacing every image of its training data had (mm per array
            axis), the fallback of the spacing rule; None when it varied.
    """

    landmark_names: tuple[str, ...]
    ndim: int
    multi_instance: bool
    statement: str
    dataset_spacing_mm: tuple[float, ...] | None

    @abstractmethod
    def predict(self, cases: Sequence[Case]) -> list[Any]:
        """Per case a (C, d) array of points on its original grid (array-index order), or
        for multi-instance models C arrays (k, d)."""


def ensemble_statement(folds: Sequence[str], members: int) -> str:
    """The sentence naming a model made of the stored models of ``folds``."""
    each = f" ({members} ensemble members each)" if members > 1 else ""
    if len(folds) == 1:
        return f"the model of fold {folds[0]}{each}"
    return (
        f"a cross-validation ensemble of the {len(folds)} fold models "
        f"({', '.join(folds)}){each}: their logits are averaged before decoding"
    )
