"""The ISBI 2015 cephalometric X-ray dataset (Wang et al. 2016) read from its official layout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.base import Case, LandmarkDataset
from landmarkbench.datasets.isbi2015 import layout as files
from landmarkbench.datasets.real_data import require_data_dir
from landmarkbench.errors import DataError, UsageError


@DATASETS.register(
    "isbi2015", "ISBI 2015 lateral cephalograms, 19 landmarks, two annotators (2D, 400 images)."
)
class ISBI2015(LandmarkDataset, manifest="isbi2015"):
    """ISBI 2015 lateral cephalograms: 400 images, 19 landmarks, senior and junior annotators.

    Layout (after extracting RawImage.rar and AnnotationsByMD.rar into ``data_dir``):
    ``RawImage/{TrainingData,Test1Data,Test2Data}/NNN.bmp`` and
    ``AnnotationsByMD/400_{senior,junior}/NNN.txt`` (``400_senior/`` and ``400_junior/`` at
    the top level are accepted too). Spacing is 0.1 mm along both axes for every image.
    Annotations are parsed independently of the images (``load_annotations``).

    Args:
        data_dir: Folder of the extracted release (required).
        cv_split_dir: Folder with ``fold1.txt`` .. ``fold4.txt`` of Thaler et al. 2021 for
            ``published_folds()`` (the lists are GPL data and are not shipped).
        challenge_file: CSV ``id,x1,y1,...,x19,y19`` in mm with the challenge's truth
            (``challenge.csv`` of Payer et al.); required by ``ground_truth="challenge"``.
        ground_truth: "mean" (default, average of the two annotators), "senior", "junior" or
            "challenge": senior everywhere except landmark 16 (soft tissue pogonion) on Test2
            (301-400), which comes from ``challenge_file``. That coordinate is an annotation
            of its own, equal to neither annotator nor their mean, so AnnotationsByMD alone
            cannot produce it.
    """

    annotator_pair = files.ANNOTATORS

    def __init__(
        self,
        data_dir: str | None = None,
        cv_split_dir: str | None = None,
        challenge_file: str | None = None,
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        self.data_dir = require_data_dir(data_dir, self.name)
        self.cv_split_dir = Path(cv_split_dir).expanduser() if cv_split_dir else None
        self.challenge_file = Path(challenge_file).expanduser() if challenge_file else None
        if self.ground_truth == "challenge" and self.challenge_file is None:
            raise UsageError(
                "Ground truth 'challenge' differs from the senior annotation on landmark 16 "
                "(soft tissue pogonion) of Test2 images 301-400 and cannot be derived from "
                "AnnotationsByMD, got no challenge_file; pass challenge_file=<path to "
                "challenge.csv (id,x1,y1,...,x19,y19 in mm)> or use ground_truth=senior."
            )
        self._challenge: dict[str, np.ndarray] | None = None
        self._ids: list[str] | None = None

    # ----------------------------------------------------------------- public interface

    def options(self) -> dict[str, Any]:
        """Options that change the data: only the challenge file, when it is used."""
        if self.ground_truth == "challenge" and self.challenge_file is not None:
            return {"challenge_file": self.challenge_file.name}
        return {}

    def network_shape(self) -> tuple[int, ...]:
        """A quarter of the first image's grid (608 x 496 for the full 2400 x 1935 images),
        rounded up to multiples of 16: full-resolution networks do not fit most GPUs."""
        first = self.load(self.case_ids()[0])
        return tuple(max(32, -(-(s // 4) // 16) * 16) for s in first.shape)

    def check_inputs(self) -> None:
        """Refuse before training a folder without images, and the files ``validate``
        would report for the cases and annotators this run uses (image headers that
        disagree with the tree, malformed or non-finite annotation lines, landmarks outside
        their image), naming the file and line.

        Raises:
            DataError: for the first problem, with the fix.
        """
        from landmarkbench.datasets.isbi2015.tree import input_problems
        from landmarkbench.datasets.real_data import refuse_problems

        if not self.case_ids():
            folders = ", ".join(f"RawImage/{f}/" for f, _a, _b in files.SPLIT_FOLDERS.values())
            raise DataError(
                f"ISBI 2015 data folder '{self.data_dir}' holds no images (looked for NNN.bmp "
                f"in {folders}); extract RawImage.rar and AnnotationsByMD.rar there "
                "('landmarkbench fetch isbi2015'), or write a miniature with 'landmarkbench "
                "fixture isbi2015 --out DIR' and pass --data-dir DIR."
            )
        used = (
            files.ANNOTATORS
            if self.ground_truth == "mean"
            else ("junior" if self.ground_truth == "junior" else "senior",)
        )
        refuse_problems(
            input_problems(self.data_dir, self.case_ids(), used), self.name, self.data_dir
        )

    def case_ids(self) -> list[str]:
        """Ids "001".."400" whose image exists in its official folder, sorted."""
        if self._ids is None:
            self._ids = [i for i in files.ALL_IDS if self.image_path(i).is_file()]
        return list(self._ids)

    def official_split(self) -> dict[str, list[str]]:
        """{"train": 001-150, "test1": 151-300, "test2": 301-400}, present ids only."""
        split: dict[str, list[str]] = {name: [] for name in files.SPLIT_FOLDERS}
        for case_id in self.case_ids():
            split[files.split_of(case_id)].append(case_id)
        return split

    def published_folds(self) -> list[list[str]] | None:
        """Thaler et al.'s 4 test folds read from ``cv_split_dir`` (present ids only)."""
        if self.cv_split_dir is None:
            return None
        present = set(self.case_ids())
        return [
            [i for i in fold if i in present] for fold in files.read_fold_files(self.cv_split_dir)
        ]

    def image_path(self, case_id: str) -> Path:
        """Path of the BMP of ``case_id`` in the official layout."""
        return self.data_dir / files.image_relpath(case_id)

    def annotation_path(self, case_id: str, annotator: str) -> Path:
        """Path of ``<annotator>``'s annotation file of ``case_id``."""
        return files.annotation_folder(self.data_dir, annotator) / f"{case_id}.txt"

    def load_annotations(self, case_id: str, annotator: str) -> np.ndarray:
        """One annotator's (19, 2) landmarks of ``case_id`` in (row, col) pixels (no image read).

        Raises:
            DataError: if the file is missing or malformed.
        """
        path = self.annotation_path(case_id, annotator)
        return files.read_annotation(path, files.display_path(path, self.data_dir)).landmarks

    def annotation(self, case_id: str, annotator: str) -> np.ndarray:
        """``load_annotations``: the annotation file alone, no image header read."""
        return self.load_annotations(case_id, annotator)

    def ground_truth_landmarks(self, case_id: str) -> np.ndarray:
        """The chosen ground truth of ``case_id``, (19, 2) (row, col) pixels (no image read).

        Raises:
            DataError: if an annotation file is missing or malformed, or the challenge file
                lacks ``case_id``.
        """
        if self.ground_truth in files.ANNOTATORS:
            return self.load_annotations(case_id, self.ground_truth)
        senior = self.load_annotations(case_id, "senior")
        if self.ground_truth == "mean":
            return (senior + self.load_annotations(case_id, "junior")) / 2
        if files.split_of(case_id) == "test2":
            senior[files.CHALLENGE_LANDMARK] = self._challenge_row(case_id)[
                files.CHALLENGE_LANDMARK
            ]
        return senior

    def load(self, case_id: str) -> Case:
        """The case with a lazy image reader; ``extra`` holds both annotators' landmarks.

        Raises:
            DataError: if ``case_id`` has no image or its annotations cannot be parsed.
        """
        from landmarkbench.imageio import read_image, read_image_shape

        path = self.image_path(case_id)
        if case_id not in files.ALL_IDS or not path.is_file():
            raise DataError(
                f"ISBI 2015 image '{files.display_path(path, self.data_dir)}' does not exist "
                f"(case id {case_id!r}); use one of case_ids() or re-extract RawImage.rar."
            )
        extra = {name: self._optional_annotation(case_id, name) for name in files.ANNOTATORS}
        return Case(
            case_id=case_id,
            landmarks=self.ground_truth_landmarks(case_id),
            spacing=np.array([files.SPACING_MM, files.SPACING_MM]),
            image_shape=tuple(int(s) for s in read_image_shape(path)),
            image_reader=lambda: read_image(path).array,
            source=str(path),
            extra={k: v for k, v in extra.items() if v is not None},
        )

    # ----------------------------------------------------------------- tree tools

    @classmethod
    def validate_tree(cls, data_dir: Path, **options: Any) -> list:
        """Every problem of a downloaded tree (see ``tree.validate_tree``)."""
        from landmarkbench.datasets.isbi2015.tree import validate_tree

        return validate_tree(Path(data_dir), **options)

    @classmethod
    def validate_note(cls, data_dir: Path, **options: Any) -> str | None:
        """A sentence for a training-only tree (see ``tree.validate_note``), else None."""
        from landmarkbench.datasets.isbi2015.tree import validate_note

        return validate_note(Path(data_dir), **options)

    @classmethod
    def write_fixture(
        cls,
        root: Path,
        case_ids: str | Sequence[str] | None = None,
        annotations_dir: str | Path | None = None,
        image_shape: tuple[int, int] = files.FULL_IMAGE_SHAPE,
        seed: int = 0,
        flat_annotations: bool = False,
    ) -> Path:
        """A miniature tree in the official layout (see ``tree.write_fixture``)."""
        from landmarkbench.datasets.isbi2015.tree import write_fixture

        return write_fixture(
            Path(root),
            case_ids=case_ids,
            annotations_dir=annotations_dir,
            image_shape=image_shape,
            seed=seed,
            flat_annotations=flat_annotations,
        )

    # ----------------------------------------------------------------- helpers

    def _optional_annotation(self, case_id: str, annotator: str) -> np.ndarray | None:
        """An annotator's landmarks for ``extra``; None only when the file is absent."""
        if not self.annotation_path(case_id, annotator).is_file():
            return None
        return self.load_annotations(case_id, annotator)

    def _challenge_row(self, case_id: str) -> np.ndarray:
        if self._challenge is None:
            self._challenge = files.read_challenge_table(Path(str(self.challenge_file)))
        if case_id not in self._challenge:
            raise DataError(
                f"Challenge annotation file '{self.challenge_file}' has no row for image "
                f"{case_id!r}; pass the complete challenge.csv (ids 001..400)."
            )
        return self._challenge[case_id]
