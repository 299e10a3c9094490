"""The contract every method fulfils: configure, fit on training cases, predict points.

A method is a recipe. Its class lists its default configuration in ``defaults`` (the one
visible place for its hyperparameters); the runner resolves ``--set`` overrides against it.
Heavy libraries (torch, monai) are imported inside ``fit``/``predict`` so that listing the
registry stays fast.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from landmarkbench.config import typed_settings
from landmarkbench.datasets.base import Case, LandmarkDataset

if TYPE_CHECKING:
    import torch

    from landmarkbench.training.geometry import ResizePad


@dataclass
class FitContext:
    """What the runner hands a method for one fold.

    Attributes:
        device: "cpu" or "cuda" (already resolved from "auto").
        seed: Seed for every random choice of the fit.
        workdir: The fold's staging folder: files a method writes here are stored with the
            fold's results (committed together with its predictions).
        progress: Whether to show a progress bar.
        log_metric: Callback ``(name, value, step)`` for training curves (may be a no-op).
        sdr_radii_mm: The radii the benchmark reports (a method may use them for selection).
        network_shape: The dataset's recommended working grid for networks (a method may
            override it with its own setting).
        match_radius: Multi-instance data: the matching radius of the benchmark's metric.
        checkpoint_dir: A folder that survives interruptions, keyed by everything that
            determines the trained model (not by the decoder): per-epoch checkpoints and the
            final model live there, so a killed fold resumes and methods that differ only
            in decoding share one trained model. None for methods without training.
    """

    device: str
    seed: int
    workdir: Path
    progress: bool = True
    log_metric: Callable[[str, float, int], None] = field(default=lambda name, value, step: None)
    sdr_radii_mm: tuple[float, ...] = (2.0, 2.5, 3.0, 4.0)
    network_shape: tuple[int, ...] = ()
    match_radius: float = 6.0
    checkpoint_dir: Path | None = None


class Method(ABC):
    """Base class of landmark localization methods.

    Args:
        config: The resolved configuration (``defaults`` with overrides applied).
        num_landmarks: Landmarks per case.
        ndim: Spatial dimensionality of the dataset.
    """

    defaults: ClassVar[Mapping[str, Any]] = {}
    # Methods whose trained model can be stored and shared name the model family here and
    # list the settings that only affect decoding (they are left out of the model's key).
    training_family: ClassVar[str | None] = None
    decoder_keys: ClassVar[frozenset[str]] = frozenset()
    supported_ndim: ClassVar[tuple[int, ...]] = (2, 3)
    # True for methods that predict a variable number of points per class (multi-instance
    # datasets); their predict() returns, per case, one (k, d) array per class.
    multi_instance: ClassVar[bool] = False
    # True for methods that can give per-landmark probability maps (``probability_batches``),
    # the input of conformal prediction regions.
    supports_conformal: ClassVar[bool] = False

    @classmethod
    def check_planned(cls, config: dict[str, Any], dataset: LandmarkDataset, owner: str) -> None:
        """Checks of a resolved ``config`` that need the dataset, run before anything trains.

        The rules of single settings live with ``defaults`` (``config.DeclaredSettings``);
        this hook is for what the data decides, e.g. whether the network grid suits the
        network's depth. The default checks nothing.

        Raises:
            ConfigError: with the setting, the rule and a working ``--set``.
        """
        return None

    def __init__(self, config: Mapping[str, Any], *, num_landmarks: int, ndim: int) -> None:
        # Typed per method family (fields of the declared defaults), read as attributes.
        self.config = typed_settings(self.defaults, config, f"{type(self).__name__}Settings")
        self.num_landmarks = num_landmarks
        self.ndim = ndim

    @abstractmethod
    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: FitContext) -> dict[str, Any]:
        """Train on ``train``; ``val`` (cut from the training fold) is for model selection only.

        Returns:
            A JSON-friendly summary of the fit (epochs, best validation error, ...).
        """

    @abstractmethod
    def predict(self, cases: Sequence[Case]) -> np.ndarray:
        """Predict landmarks of ``cases`` on their original grids.

        Returns:
            Array (N, C, d) in array-index order, pixel centres at integers; for
            multi-instance methods a sequence over cases of C arrays (k, d).
        """

    def probability_batches(
        self, cases: Sequence[Case]
    ) -> Iterator[tuple[torch.Tensor, list[ResizePad]]]:
        """Per-landmark probability maps of fitted ``cases`` on the method's working grid.

        Yields:
            ``(probabilities, mappings)`` per batch of consecutive cases: a tensor
            (B, C, *grid), each map non-negative and summing to 1, and for each case the
            mapping between its original grid and the working grid.

        Raises:
            NotImplementedError: for methods without probability maps
                (``supports_conformal`` is False).
        """
        raise NotImplementedError(
            f"{type(self).__name__} gives no probability maps; conformal regions need a "
            "heatmap method."
        )
