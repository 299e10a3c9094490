"""The MML dataset: 14 mandibular molar landmarks in 3D CT volumes (He et al. 2024)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from landmarkbench.acquire.validation import Problem
from landmarkbench.catalog import DATASETS
from landmarkbench.config import at_least, choice
from landmarkbench.datasets.base import Case, LandmarkDataset
from landmarkbench.datasets.mml.layout import (
    LABEL_SUFFIX,
    SPACING_SOURCES,
    SPACING_SUFFIX,
    SPLITS,
    SUBSETS,
    dataset_root,
    parse_axes,
    read_header_spacing,
    read_label,
    read_spacing_file,
    volume_path,
)
from landmarkbench.errors import DataError, UsageError


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(f"mml {name} must be one of {', '.join(allowed)}, got {value!r}.")
    return value


@DATASETS.register("mml", "Mandibular molar landmarks: 14 landmarks in 3D CT (MML, He 2024).")
class MML(LandmarkDataset, manifest="mml"):
    """The MML CT dataset in its official layout ``mmld_dataset/{train,val,test}/``.

    Each case is ``<case>_volume.nrrd`` (or ``.npy``), ``<case>_label.npy`` (14 x 3 voxel
    coordinates; a non-positive coordinate marks a missing landmark, returned as NaN) and
    ``<case>_spacing.npy``. Case ids are ``"<split>/<case>"``, sorted.

    Args:
        data_dir: The ``mmld_dataset`` folder or its parent.
        subset: "all" (every case), "full" (cases with all 14 landmarks present, the
            complete-landmark subset) or "mini" (the first ``mini_cases`` sorted cases of each
            split, for quick runs).
        mini_cases: Cases per split in the "mini" subset.
        label_axes: Volume array axis of each label column ("ijk" = identity, "kji" =
            reversed); the array axes are the file's voxel index axes (pynrrd order).
        spacing_axes: The same mapping for the spacing file; defaults to ``label_axes``.
        spacing_source: "file" (``<case>_spacing.npy``) or "header" (the NRRD header). The
            original code did not update spacing after resampling, so the two can differ:
            the choice is recorded with every result.
        report_validation: Also report the val split as a test set of the official split.
        ground_truth: Only "official" (the released annotation).
    """

    # Checked when a run is planned (``run.plan``), with the --data-option fix.
    option_rules: ClassVar[dict[str, Any]] = {
        "subset": choice(*SUBSETS),
        "mini_cases": at_least(1),
        "spacing_source": choice(*SPACING_SOURCES),
    }

    def __init__(
        self,
        data_dir: str | Path | None = None,
        subset: str = "all",
        mini_cases: int = 5,
        label_axes: str = "ijk",
        spacing_axes: str | None = None,
        spacing_source: str = "file",
        report_validation: bool = False,
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        if data_dir is None:
            raise UsageError(
                "Dataset 'mml' needs data_dir, the folder holding mmld_dataset/ (or that folder "
                "itself); pass --data-dir /path/to/mmld_dataset."
            )
        self.subset = _choice("subset", subset, SUBSETS)
        if isinstance(mini_cases, str) and mini_cases.strip().isdigit():
            mini_cases = int(mini_cases)  # a text option from the command line
        if isinstance(mini_cases, bool) or not isinstance(mini_cases, int) or mini_cases < 1:
            raise UsageError(f"mml mini_cases must be a positive integer, got {mini_cases!r}.")
        self.mini_cases = mini_cases
        self.label_axes = label_axes
        self.spacing_axes = spacing_axes or label_axes
        self._label_perm = parse_axes(label_axes, "label_axes")
        self._spacing_perm = parse_axes(self.spacing_axes, "spacing_axes")
        self.spacing_source = _choice("spacing_source", spacing_source, SPACING_SOURCES)
        if isinstance(report_validation, str):
            report_validation = report_validation.strip().lower() in ("1", "true", "yes")
        self.report_validation = bool(report_validation)
        root = dataset_root(data_dir)
        if root is None:
            raise DataError(
                f"Folder '{data_dir}' holds neither mmld_dataset/ nor train/, val/, test/ "
                "folders; point data_dir at the extracted MML dataset."
            )
        self.root = root
        self._ids: list[str] | None = None

    def options(self) -> dict[str, Any]:
        """Options that change the data (recorded with results; data_dir is not)."""
        return {
            "subset": self.subset,
            "mini_cases": self.mini_cases,
            "label_axes": self.label_axes,
            "spacing_axes": self.spacing_axes,
            "spacing_source": self.spacing_source,
            "report_validation": self.report_validation,
        }

    def all_case_ids(self) -> list[str]:
        """Every case with a label file, whatever the subset, sorted."""
        ids = []
        for split in SPLITS:
            folder = self.root / split
            if folder.is_dir():
                stems = (p.name[: -len(LABEL_SUFFIX)] for p in folder.glob(f"*{LABEL_SUFFIX}"))
                ids.extend(f"{split}/{stem}" for stem in stems)
        return sorted(ids)

    def case_ids(self) -> list[str]:
        """The cases of the chosen subset, sorted."""
        if self._ids is None:
            ids = self.all_case_ids()
            if self.subset == "full":
                ids = [c for c in ids if not np.isnan(self._landmarks(c)).any()]
            elif self.subset == "mini":
                by_split = {s: [c for c in ids if c.split("/", 1)[0] == s] for s in SPLITS}
                ids = [c for s in SPLITS for c in by_split[s][: self.mini_cases]]
            self._ids = sorted(ids)
        return list(self._ids)

    def check_inputs(self) -> None:
        """Refuse before training a tree without cases, and what ``validate`` would report
        for the chosen cases: unreadable or non-finite labels, spacing, volume headers that
        are not 3D, landmarks outside their volume (headers only: fast).

        Raises:
            DataError: for the first problem, with the fix.
        """
        from landmarkbench.datasets.mml.tree import case_input_problems
        from landmarkbench.datasets.real_data import refuse_problems

        if not self.case_ids():
            raise DataError(
                f"MML folder '{self.root}' holds no cases of subset {self.subset!r} (no "
                f"*{LABEL_SUFFIX} in {', '.join(s + '/' for s in SPLITS)}); extract the MML "
                "dataset there, or write a miniature with 'landmarkbench fixture mml --out DIR'."
            )
        problems = []
        for case_id in self.case_ids():
            problems += case_input_problems(self, case_id)
        refuse_problems(problems, self.name, self.root)

    def split_ids(self, split: str) -> list[str]:
        """The subset's case ids in one of the folders train, val, test."""
        return [c for c in self.case_ids() if c.split("/", 1)[0] == split]

    def validation_ids(self) -> list[str]:
        """The val cases: for model selection, not a reported test set by default."""
        return self.split_ids("val")

    def official_validation(self) -> list[str] | None:
        """The cases the official protocol selects models on: val/ (the runner's inner
        validation, ``protocols.fold_parts.declared_validation``); None when val/ is
        reported as a test set (``report_validation``) or holds no case of the subset."""
        if self.report_validation:
            return None
        return self.validation_ids() or None

    def official_split(self) -> dict[str, list[str]]:
        """{"train": train, "test": test}; "val" is added only with report_validation."""
        split = {"train": self.split_ids("train"), "test": self.split_ids("test")}
        if self.report_validation:
            split["val"] = self.validation_ids()
        return split

    def load(self, case_id: str) -> Case:
        """One case: lazy volume, landmarks in voxels (array order), spacing in mm.

        Raises:
            DataError: if the case is unknown or one of its files is missing or malformed.
        """
        from landmarkbench.imageio import read_image, read_image_shape

        split_dir, stem = self._locate(case_id)
        volume = volume_path(split_dir, stem)
        if volume is None:
            raise DataError(
                f"MML case {case_id!r} has no volume {stem}_volume.nrrd or .npy in "
                f"'{split_dir}'; re-extract the dataset."
            )
        if self.spacing_source == "header":
            spacing = read_header_spacing(volume)
        else:
            spacing = read_spacing_file(split_dir / f"{stem}{SPACING_SUFFIX}", self._spacing_perm)
        return Case(
            case_id=case_id,
            landmarks=self._landmarks(case_id),
            spacing=spacing,
            image_shape=tuple(int(s) for s in read_image_shape(volume)),
            image_reader=lambda: read_image(volume).array,
            source=str(volume),
            extra={"split": split_dir.name, "spacing_source": self.spacing_source},
        )

    def _locate(self, case_id: str) -> tuple[Path, str]:
        split, _, stem = case_id.partition("/")
        label = self.root / split / f"{stem}{LABEL_SUFFIX}"
        if split not in SPLITS or not label.is_file():
            raise DataError(
                f"Case id {case_id!r} is not an MML case in '{self.root}'; ids look like "
                "'train/<case>' (see case_ids())."
            )
        return self.root / split, stem

    def _landmarks(self, case_id: str) -> np.ndarray:
        split_dir, stem = self._locate(case_id)
        return read_label(split_dir / f"{stem}{LABEL_SUFFIX}", self._label_perm)

    @classmethod
    def validate_tree(
        cls,
        data_dir: Path,
        label_axes: str = "ijk",
        spacing_axes: str | None = None,
        spacing_source: str = "file",
        **_other: Any,
    ) -> list[Problem]:
        """Every problem of an MML tree (files, decoding, landmarks inside); writes nothing.

        Options other than the three that affect the check (e.g. ``subset``) are ignored.
        """
        from landmarkbench.datasets.mml.tree import validate_mml_tree

        return validate_mml_tree(
            Path(data_dir),
            label_axes=label_axes,
            spacing_axes=spacing_axes,
            spacing_source=spacing_source,
        )

    @classmethod
    def write_fixture(
        cls,
        root: Path,
        volume_format: str = "nrrd",
        label_axes: str = "ijk",
        shape: tuple[int, int, int] = (12, 14, 10),
        seed: int = 0,
    ) -> Path:
        """A miniature MML tree in the official layout; returns its ``mmld_dataset`` folder.

        See ``tree.write_mml_fixture``: 7 cases, a bright voxel at every landmark, one
        case with two missing landmarks; ``label_axes`` sets the label column order.
        """
        from landmarkbench.datasets.mml.tree import write_mml_fixture

        return write_mml_fixture(
            Path(root), volume_format=volume_format, label_axes=label_axes, shape=shape, seed=seed
        )
