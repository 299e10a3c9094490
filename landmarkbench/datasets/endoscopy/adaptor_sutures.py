"""AdaptOR 2021 sutures: multi-instance 2D suture points in mitral valve endoscopy frames.

Layout (Sharan et al., IJCARS 2021): ``<surgery>/<video>/images/000012.png`` with labels
``<surgery>/<video>/point_labels/000012.json`` =
``{"imageHeight": 288, "imageWidth": 512, "points": [{"x": .., "y": ..}, ...]}``; a frame
may have zero points. One class, ``suture``; errors are in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from landmarkbench.acquire.validation import Problem
from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.base import Case
from landmarkbench.datasets.endoscopy.layout import (
    ADAPTOR_CLASS_NAME,
    ADAPTOR_LABEL_GLOB,
    parse_point_label,
)
from landmarkbench.datasets.endoscopy.points import (
    MultiInstancePointDataset,
    as_instances,
    frame_case,
)
from landmarkbench.errors import DataError, UsageError


@DATASETS.register(
    "adaptor_sutures", "AdaptOR 2021 suture points in endoscopy (multi-instance 2D)."
)
class AdaptORSutures(MultiInstancePointDataset, manifest="adaptor_sutures"):
    """AdaptOR 2021 mitral valve sutures: one class, 0..n points per frame, pixels.

    Case ids are ``"<surgery>/<video>/<frame>"`` (e.g. ``surgery01/video02/000012``), sorted;
    a case is a frame with a ``point_labels`` JSON. Splits must leave whole surgeries out:
    ``group_of`` gives a case's surgery, ``official_split`` holds out ``test_surgeries`` and
    ``published_folds`` gives surgery-grouped folds when ``surgery_folds`` is set (the fold
    assignment of the publications is not known: ours deals sorted surgeries round-robin).

    Args:
        data_dir: Folder holding the ``<surgery>/`` folders.
        test_surgeries: Surgeries of the test set (list or comma-separated); without it the
            dataset declares no official split.
        surgery_folds: Number of surgery-grouped cross-validation folds (0: none).
        ground_truth: Only "official" (the released annotation).
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        test_surgeries: Sequence[str] | str | None = None,
        surgery_folds: int = 0,
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        if data_dir is None:
            raise UsageError(
                "Dataset 'adaptor_sutures' needs data_dir, the folder holding the <surgery>/ "
                "folders; pass --data-dir /path/to/adaptor_sutures."
            )
        self.data_dir = Path(data_dir)
        if isinstance(test_surgeries, str):
            test_surgeries = [s for s in test_surgeries.split(",") if s]
        self.test_surgeries = tuple(sorted(test_surgeries or ()))
        if isinstance(surgery_folds, str) and surgery_folds.strip().isdigit():
            surgery_folds = int(surgery_folds)  # a text option from the command line
        if (
            isinstance(surgery_folds, bool)
            or not isinstance(surgery_folds, int)
            or (surgery_folds == 1 or surgery_folds < 0)
        ):
            raise UsageError(
                f"adaptor_sutures surgery_folds must be 0 (none) or at least 2, got "
                f"{surgery_folds!r}; e.g. surgery_folds=5."
            )
        self.surgery_folds = int(surgery_folds)
        self._ids: list[str] | None = None

    def options(self) -> dict[str, Any]:
        """Options that change the split (recorded with results)."""
        return {"test_surgeries": list(self.test_surgeries), "surgery_folds": self.surgery_folds}

    def case_ids(self) -> list[str]:
        """``<surgery>/<video>/<frame>`` of every frame with a label file, sorted."""
        if self._ids is None:
            self._ids = sorted(
                f"{p.parts[-4]}/{p.parts[-3]}/{p.stem}"
                for p in self.data_dir.glob(ADAPTOR_LABEL_GLOB)
            )
        return list(self._ids)

    @staticmethod
    def group_of(case_id: str) -> str:
        """The surgery of a case: splits must never divide a surgery."""
        return case_id.split("/", 1)[0]

    def surgeries(self) -> list[str]:
        """Sorted surgery names."""
        return sorted({self.group_of(c) for c in self.case_ids()})

    def official_split(self) -> dict[str, list[str]] | None:
        """{"train": other surgeries, "test": ``test_surgeries``}, or None without them.

        Raises:
            DataError: if a test surgery has no labelled frames.
        """
        if not self.test_surgeries:
            return None
        unknown = sorted(set(self.test_surgeries) - set(self.surgeries()))
        if unknown:
            raise DataError(
                f"adaptor_sutures test_surgeries {unknown} have no labelled frames in "
                f"'{self.data_dir}'; choose among {', '.join(self.surgeries())}."
            )
        ids = self.case_ids()
        test = set(self.test_surgeries)
        return {
            "train": [c for c in ids if self.group_of(c) not in test],
            "test": [c for c in ids if self.group_of(c) in test],
        }

    def published_folds(self) -> list[list[str]] | None:
        """``surgery_folds`` test folds of whole surgeries (sorted, round-robin), or None.

        Raises:
            DataError: if there are fewer surgeries than folds.
        """
        if not self.surgery_folds:
            return None
        surgeries = self.surgeries()
        if len(surgeries) < self.surgery_folds:
            raise DataError(
                f"adaptor_sutures has {len(surgeries)} surgeries in '{self.data_dir}', fewer "
                f"than surgery_folds={self.surgery_folds}; use at most {len(surgeries)} folds."
            )
        fold_of = {s: k % self.surgery_folds for k, s in enumerate(surgeries)}
        folds: list[list[str]] = [[] for _ in range(self.surgery_folds)]
        for case_id in self.case_ids():
            folds[fold_of[self.group_of(case_id)]].append(case_id)
        return folds

    def paths(self, case_id: str) -> tuple[Path, Path]:
        """(image, label) paths of a case."""
        surgery, video, frame = case_id.split("/")
        folder = self.data_dir / surgery / video
        return folder / "images" / f"{frame}.png", folder / "point_labels" / f"{frame}.json"

    def load(self, case_id: str) -> Case:
        """One frame: lazy image, suture points in (row, col) pixels.

        Raises:
            DataError: if the case id is unknown or its files are missing or malformed.
        """
        if case_id.count("/") != 2 or not self.paths(case_id)[1].is_file():
            raise DataError(
                f"Case id {case_id!r} is not an AdaptOR frame with labels in '{self.data_dir}'; "
                "ids look like 'surgery01/video02/000012' (see case_ids())."
            )
        image, label = self.paths(case_id)
        points, declared = parse_point_label(label)
        extra = {"surgery": self.group_of(case_id), "declared_shape": declared}
        return frame_case(
            case_id, image, as_instances({ADAPTOR_CLASS_NAME: points}, (ADAPTOR_CLASS_NAME,)), extra
        )

    @classmethod
    def validate_tree(cls, data_dir: Path, **_other: Any) -> list[Problem]:
        """Every problem of an AdaptOR tree; writes nothing, raises nothing for data.

        The split options do not affect the check and are ignored.
        """
        from landmarkbench.datasets.endoscopy.tree import validate_adaptor_tree

        return validate_adaptor_tree(cls(data_dir=data_dir))

    @classmethod
    def write_fixture(cls, root: Path) -> Path:
        """A miniature AdaptOR tree in the official layout; returns its data_dir.

        See ``tree.write_adaptor_fixture``: 3 surgeries, 5 frames of 64 x 36,
        one with zero points.
        """
        from landmarkbench.datasets.endoscopy.tree import write_adaptor_fixture

        return write_adaptor_fixture(Path(root))
