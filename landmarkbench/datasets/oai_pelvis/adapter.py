"""The OAI pelvis X-ray landmarks (Pei et al. 2023) read from the annotation release's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from landmarkbench.catalog import DATASETS
from landmarkbench.config import above
from landmarkbench.datasets.base import Case, LandmarkDataset
from landmarkbench.datasets.oai_pelvis import layout as files
from landmarkbench.datasets.oai_pelvis.layout import check_coordinate_scale
from landmarkbench.datasets.real_data import require_data_dir
from landmarkbench.errors import DataError


@DATASETS.register(
    "oai_pelvis", "OAI AP pelvis X-rays, 8 landmarks, per-image spacing (2D, 524 images)."
)
class OAIPelvis(LandmarkDataset, manifest="oai_pelvis"):
    """OAI pelvis radiographs with 8 landmarks (L1..L8) and per-image spacing.

    Layout of ``data_dir`` (the release's two tables beside one image folder)::

        Coordinates_information.xlsx   (or .csv) image_name + 16 columns x1, y1, ..., x8, y8
        original_information.xlsx      (or .csv) image_file, image_resolution1, image_resolution2
        images/<name>.dcm | <name>.png  (``image_dir``; original DICOMs or PNG conversions)

    Table names may carry the image suffix or not; a row finds its image as the listed name,
    ``<id>.dcm``, ``<id>.png`` or ``<id>`` (DICOMs without suffix). The case id is the name
    without a ``.dcm``/``.png`` suffix. Landmarks are ``(y, x) * coordinate_scale`` in
    (row, col) pixels of the image. Spacing comes from the table, per image:
    ``image_resolution1`` is the column (x) spacing and ``image_resolution2`` the row (y)
    spacing (NIMH Data Archive image03 convention: axis 1 is x); ``validate_tree`` compares
    them with the DICOM PixelSpacing where the images are DICOMs.

    Args:
        data_dir: Folder holding the tables and the image folder (required).
        coordinate_scale: Factor from stored coordinates to image pixels; 4.0 as landmarker
            (the stored values appear to live on a 4x downsampled grid). No half-pixel
            offset is added, as in landmarker. Recorded in ``options()``.
        image_dir: Image folder, relative to ``data_dir`` (or absolute).
        ground_truth: "official", the only annotation set.
    """

    # Checked when a run is planned (``run.plan``), with the --data-option fix.
    option_rules: ClassVar[dict[str, Any]] = {"coordinate_scale": above(0, example="4.0")}

    def __init__(
        self,
        data_dir: str | None = None,
        coordinate_scale: float = 4.0,
        image_dir: str = "images",
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        self.data_dir = require_data_dir(data_dir, self.name)
        self.coordinate_scale = check_coordinate_scale(coordinate_scale)
        self.image_dir_name = str(image_dir or "images")
        self.image_dir = self.data_dir / self.image_dir_name
        self._rows: dict[str, files.CoordinateRow] | None = None
        self._spacings: dict[str, np.ndarray] | None = None
        self._spacing_display = ""
        self._images: dict[str, Path] | None = None

    # ----------------------------------------------------------------- public interface

    def options(self) -> dict[str, Any]:
        """The coordinate scale and image folder (recorded and hashed with results)."""
        return {"coordinate_scale": self.coordinate_scale, "image_dir": self.image_dir_name}

    def network_shape(self) -> tuple[int, ...]:
        """A quarter of the first image's grid, rounded up to multiples of 16."""
        first = self.load(self.case_ids()[0])
        return tuple(max(32, -(-(s // 4) // 16) * 16) for s in first.shape)

    def check_inputs(self) -> None:
        """Refuse before training a folder without usable cases, and what ``validate``
        would report for them: unreadable image headers, missing spacing rows, landmarks
        that are not finite or lie outside their image (naming the table row).

        Raises:
            DataError: for the first problem, with the fix.
        """
        from landmarkbench.datasets.oai_pelvis.tree import input_problems
        from landmarkbench.datasets.real_data import refuse_problems

        if not self.case_ids():
            raise DataError(
                f"OAI pelvis data folder '{self.data_dir}' has no image in '{self.image_dir}' "
                f"for any row of {files.COORDINATES_TABLE}; copy the images there (or pass "
                "--data-option image_dir=...), or write a miniature with 'landmarkbench fixture "
                "oai_pelvis --out DIR'."
            )
        refuse_problems(input_problems(self), self.name, self.data_dir)

    def case_ids(self) -> list[str]:
        """Ids of the coordinate rows whose image exists, sorted."""
        return sorted(self._image_paths())

    def published_folds(self) -> None:
        """None: Pei et al.'s folds are unpublished; use the seeded kfold protocol (K=5)."""
        return None

    def stored_coordinates(self, case_id: str) -> np.ndarray:
        """The table's (8, 2) (x, y) values of ``case_id``, before scaling (NaN = missing)."""
        return self._coordinate_rows()[self._known(case_id)].stored_xy.copy()

    def landmarks_of(self, case_id: str) -> np.ndarray:
        """(8, 2) (row, col) pixels: the stored (y, x) times ``coordinate_scale``."""
        return self.stored_coordinates(case_id)[:, ::-1] * self.coordinate_scale

    def spacing_of(self, case_id: str) -> np.ndarray:
        """(row, col) spacing in mm of ``case_id`` from the spacing table.

        Raises:
            DataError: if the image has no usable row in the spacing table.
        """
        spacings = self._spacing_rows()
        spacing = spacings.get(self._known(case_id))
        problem = files.spacing_problem(spacing, case_id, self._spacing_display)
        if problem:
            raise DataError(problem)
        return spacing.copy()

    def load(self, case_id: str) -> Case:
        """The case with a lazy image reader, landmarks in pixels and its own spacing.

        Raises:
            DataError: if the case is unknown, its image is missing or it has no spacing.
        """
        from landmarkbench.imageio import read_image, read_image_shape

        path = self._image_paths().get(case_id)
        if path is None:
            raise DataError(
                f"OAI pelvis image {case_id!r} is not in '{self.image_dir}' (as listed, .dcm "
                "or .png); use one of case_ids() or copy the image there."
            )
        return Case(
            case_id=case_id,
            landmarks=self.landmarks_of(case_id),
            spacing=self.spacing_of(case_id),
            image_shape=tuple(int(s) for s in read_image_shape(path)),
            image_reader=lambda: read_image(path).array,
            source=str(path),
            extra={"stored_xy": self.stored_coordinates(case_id)},
        )

    # ----------------------------------------------------------------- tree tools

    @classmethod
    def validate_tree(cls, data_dir: Path, **options: Any) -> list:
        """Every problem of a data folder (see ``tree.validate_tree``)."""
        from landmarkbench.datasets.oai_pelvis.tree import validate_tree

        return validate_tree(Path(data_dir), **options)

    @classmethod
    def write_fixture(
        cls,
        root: Path,
        n_cases: int = 6,
        fmt: str = "png",
        table_format: str = "xlsx",
        image_shape: tuple[int, int] = (256, 208),
        coordinate_scale: float = 4.0,
        seed: int = 0,
    ) -> Path:
        """A miniature data folder (see ``tree.write_fixture``)."""
        from landmarkbench.datasets.oai_pelvis.tree import write_fixture

        return write_fixture(
            Path(root),
            n_cases=n_cases,
            fmt=fmt,
            table_format=table_format,
            image_shape=image_shape,
            coordinate_scale=coordinate_scale,
            seed=seed,
        )

    # ----------------------------------------------------------------- helpers

    def _coordinate_rows(self) -> dict[str, files.CoordinateRow]:
        if self._rows is None:
            path = files.find_table(self.data_dir, files.COORDINATES_TABLE)
            self._rows = files.coordinate_rows(files.read_table(path), path.name)
        return self._rows

    def _spacing_rows(self) -> dict[str, np.ndarray]:
        if self._spacings is None:
            path = files.find_table(self.data_dir, files.SPACING_TABLE)
            self._spacing_display = path.name
            self._spacings = files.spacing_rows(files.read_table(path), path.name)
        return self._spacings

    def _image_paths(self) -> dict[str, Path]:
        if self._images is None:
            found = {
                case_id: files.find_image(self.image_dir, row, case_id)
                for case_id, row in self._coordinate_rows().items()
            }
            self._images = {k: v for k, v in found.items() if v is not None}
        return self._images

    def _known(self, case_id: str) -> str:
        if case_id not in self._coordinate_rows():
            raise DataError(
                f"OAI pelvis case {case_id!r} is not in Coordinates_information (column "
                "image_name); use one of case_ids()."
            )
        return case_id
