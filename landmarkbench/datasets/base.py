"""What every dataset adapter provides: cases (image, landmarks, spacing) and provenance.

Conventions (the single place they are stated):
- ``Case.image`` is float32 with shape (H, W) in 2D or (D, H, W) in 3D, one channel.
- ``Case.landmarks`` has shape (C, d) in array-index order ((row, col) in 2D), as
  continuous pixel indices with the pixel centre at the integer; a missing landmark is NaN.
- ``Case.spacing`` has shape (d,): millimetres per pixel along each array axis.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from landmarkbench.errors import UsageError


@dataclass(frozen=True)
class Case:
    """One image with its landmarks, on its original grid."""

    case_id: str
    image: np.ndarray
    landmarks: np.ndarray
    spacing: np.ndarray
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ndim(self) -> int:
        """Spatial dimensionality (2 or 3)."""
        return int(self.landmarks.shape[1])

    @property
    def shape(self) -> tuple[int, ...]:
        """Spatial shape of the image."""
        return tuple(int(s) for s in self.image.shape)


class LandmarkDataset(ABC):
    """A dataset of cases with a fixed landmark list.

    Subclasses set the class attributes, accept their options as keyword arguments and
    implement ``case_ids`` and ``load``. ``ground_truth`` names the annotation source that
    ``load`` returns as ``Case.landmarks`` and is recorded with every result.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    ndim: ClassVar[int]
    landmark_names: ClassVar[tuple[str, ...]]
    ground_truth_options: ClassVar[tuple[str, ...]]
    default_sdr_radii_mm: ClassVar[tuple[float, ...]] = (2.0, 2.5, 3.0, 4.0)

    def __init__(self, ground_truth: str | None = None) -> None:
        chosen = ground_truth or self.ground_truth_options[0]
        if chosen not in self.ground_truth_options:
            raise UsageError(
                f"Ground truth {chosen!r} is not available for dataset {self.name!r}; "
                f"choose one of {', '.join(self.ground_truth_options)}."
            )
        self.ground_truth = chosen

    @property
    def num_landmarks(self) -> int:
        return len(self.landmark_names)

    @abstractmethod
    def case_ids(self) -> list[str]:
        """All case ids, sorted."""

    @abstractmethod
    def load(self, case_id: str) -> Case:
        """Load one case with the chosen ground truth."""

    def load_many(self, case_ids: Sequence[str]) -> list[Case]:
        """Load several cases, in the given order."""
        return [self.load(c) for c in case_ids]

    def network_shape(self) -> tuple[int, ...]:
        """The grid networks should work on by default (multiples of 16).

        The default is the first case's shape rounded up to multiples of 16; datasets with
        large images override it with a coarser grid.
        """
        first = self.load(self.case_ids()[0])
        return tuple(int(-(-s // 16) * 16) for s in first.shape)

    def official_split(self) -> dict[str, list[str]] | None:
        """The dataset's declared split {"train": [...], "<test name>": [...]} or None."""
        return None

    def options(self) -> dict[str, Any]:
        """The options that change the data (recorded and hashed with results)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Provenance of the data: name, version, ground truth and options."""
        return {
            "name": self.name,
            "version": self.version,
            "ground_truth": self.ground_truth,
            "ndim": self.ndim,
            "num_landmarks": self.num_landmarks,
            "options": self.options(),
        }
