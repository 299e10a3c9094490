"""What every dataset adapter provides: cases (image, landmarks, spacing) and provenance.

Conventions (the single place they are stated):
- ``Case.image`` is float32 with shape (H, W) in 2D or (D, H, W) in 3D, one channel.
- ``Case.landmarks`` has shape (C, d) in array-index order ((row, col) in 2D), as
  continuous pixel indices with the pixel centre at the integer; a missing landmark is NaN.
- ``Case.spacing`` has shape (d,): millimetres per pixel along each array axis.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from landmarkbench.errors import DataError, UsageError


@dataclass(frozen=True, eq=False)
class Case:
    """One image with its landmarks, on its original grid.

    The pixels are read lazily: ``image`` calls ``image_reader`` (or returns the array given
    in memory), so listing cases, checking shapes and mapping coordinates never decodes an
    image, and the preprocessing cache can skip decoding altogether.

    Attributes:
        case_id: The dataset's id of the case.
        landmarks: (C, d) in array-index order, NaN where missing. For multi-instance
            datasets it is (0, d) and ``instances`` holds the points.
        spacing: (d,) mm per pixel along each array axis.
        image_shape: Spatial shape of the image, (H, W) or (D, H, W).
        image_reader: Returns the float32 image; None when ``pixels`` is given.
        pixels: The image already in memory (synthetic data, tests).
        instances: Multi-instance datasets only: one (k_i, d) array per class (k_i may be 0).
        source: Identity of the image source (e.g. the file path) for caches.
        extra: Anything else an adapter wants to expose (e.g. other annotators).
    """

    case_id: str
    landmarks: np.ndarray
    spacing: np.ndarray
    image_shape: tuple[int, ...]
    image_reader: Callable[[], np.ndarray] | None = None
    pixels: np.ndarray | None = None
    instances: tuple[np.ndarray, ...] | None = None
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def in_memory(
        cls,
        case_id: str,
        image: np.ndarray,
        landmarks: np.ndarray,
        spacing: np.ndarray,
        **kwargs: Any,
    ) -> Case:
        """A case whose image is already an array."""
        return cls(
            case_id=case_id,
            landmarks=landmarks,
            spacing=spacing,
            image_shape=tuple(int(s) for s in image.shape),
            pixels=image,
            **kwargs,
        )

    @property
    def image(self) -> np.ndarray:
        """The image (float32), read now if it is not in memory."""
        if self.pixels is not None:
            return self.pixels
        if self.image_reader is None:
            raise ValueError(f"Case {self.case_id!r} has neither pixels nor an image reader.")
        return self.image_reader()

    @property
    def ndim(self) -> int:
        """Spatial dimensionality (2 or 3)."""
        return len(self.image_shape)

    @property
    def shape(self) -> tuple[int, ...]:
        """Spatial shape of the image."""
        return self.image_shape


class LandmarkDataset(ABC):
    """A dataset of cases with a fixed landmark list.

    Subclasses set the class attributes, accept their options as keyword arguments and
    implement ``case_ids`` and ``load``. ``ground_truth`` names the annotation source that
    ``load`` returns as ``Case.landmarks`` and is recorded with every result.

    A dataset with a manifest (``datasets_manifest/<name>.yaml``) names it in its class
    statement, ``class ISBI2015(LandmarkDataset, manifest="isbi2015")``, instead of
    restating the facts: ``name``, ``version``, ``ndim``, ``multi_instance``,
    ``landmark_names``, ``ground_truth_options`` (the manifest's default first) and, when the
    manifest gives them, ``default_sdr_radii_mm`` are then read from it (one source).
    """

    name: ClassVar[str]
    version: ClassVar[str]
    ndim: ClassVar[int]
    landmark_names: ClassVar[tuple[str, ...]]
    ground_truth_options: ClassVar[tuple[str, ...]]
    default_sdr_radii_mm: ClassVar[tuple[float, ...]] = (2.0, 2.5, 3.0, 4.0)
    # Multi-instance datasets (a variable number of points per class) set this to True and
    # fill ``Case.instances``; ``landmark_names`` then names the classes.
    multi_instance: ClassVar[bool] = False
    # Rules (``config.Rule``) of the keyword options, by name: ``run`` enforces them when
    # it plans, before the dataset is built (e.g. {"n_cases": config.at_least(2)}).
    option_rules: ClassVar[Mapping[str, Any]] = {}
    # Datasets annotated by two observers name them, e.g. ("senior", "junior"): the
    # tables then show the human baseline, the second scored against the first (and each
    # against a ground truth that is neither, such as their mean), from ``annotation``.
    annotator_pair: ClassVar[tuple[str, str] | None] = None

    def __init_subclass__(cls, manifest: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if manifest is None:
            return
        from landmarkbench.acquire.manifest import dataset_facts

        facts = dataset_facts(manifest)
        cls.name = facts.name
        cls.version = facts.version
        cls.ndim = facts.ndim
        cls.multi_instance = facts.multi_instance
        cls.landmark_names = facts.landmark_names
        cls.ground_truth_options = facts.ground_truth_options
        if facts.sdr_radii_mm is not None:
            cls.default_sdr_radii_mm = facts.sdr_radii_mm

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

    def check_inputs(self) -> None:
        """Refuse, before anything trains, data that a run must not score.

        ``run`` calls this once per plan. The default requires at least one case; datasets
        read from disk extend it with the rules ``validate`` applies to their files
        (annotations inside their images, finite coordinates, image shapes), reading image
        headers rather than pixels so that it stays fast.

        Raises:
            DataError: naming the first offending file (and line) and the fix.
        """
        if not self.case_ids():
            raise DataError(
                f"Dataset {self.name!r} has no cases with the options given "
                f"({self.options() or 'defaults'}); check --data-dir and the --data-option "
                f"values (for a downloaded dataset 'landmarkbench validate {self.name} "
                "--data-dir DIR' lists what is missing)."
            )

    def annotation(self, case_id: str, annotator: str) -> np.ndarray:
        """One annotator's (C, d) landmarks of ``case_id`` (array-index order, NaN where
        missing), for the datasets that declare ``annotator_pair``.

        The default reads ``load(case_id).extra[annotator]``; adapters that can read an
        annotation without its image override it.

        Raises:
            DataError: if the case does not hold that annotator's landmarks.
        """
        found = self.load(case_id).extra.get(annotator)
        if found is None:
            raise DataError(
                f"Dataset {self.name!r} case {case_id!r} has no annotation by {annotator!r} "
                f"(annotators: {', '.join(self.annotator_pair or ()) or 'none declared'})."
            )
        return np.asarray(found, dtype=float)

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

    def official_validation(self) -> list[str] | None:
        """The cases the official protocol selects models on (e.g. MML's val/), or None:
        then the runner cuts its inner validation from the training cases."""
        return None

    def published_folds(self) -> list[list[str]] | None:
        """Test folds of a published cross-validation (e.g. ISBI's 4 folds) or None."""
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
            "landmark_names": list(self.landmark_names),
            "multi_instance": self.multi_instance,
            "options": self.options(),
        }
