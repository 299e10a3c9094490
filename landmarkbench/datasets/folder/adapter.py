"""The ``folder`` dataset: your own images and one landmarks table, without code."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from landmarkbench.acquire.validation import Problem
from landmarkbench.catalog import DATASETS
from landmarkbench.config import choice
from landmarkbench.datasets.base import Case, LandmarkDataset
from landmarkbench.datasets.folder import layout
from landmarkbench.datasets.real_data import require_data_dir
from landmarkbench.errors import DataError, UsageError


@DATASETS.register(
    "folder",
    "Your own folder: images (2D or 3D) + one landmarks CSV/JSON, optional split.csv.",
)
class FolderDataset(LandmarkDataset):
    """Images in a folder with one table of landmarks (format: ``folder.layout``).

    The case id is the image path as written in the table (relative to ``data_dir``). The
    landmark list is the ``landmarks`` option, or every name in the table in the order of
    first appearance. The dataset is 3D when the table has a ``z`` column.

    Spacing (mm per pixel) of an image comes from, in this order: the ``spacing`` option
    (every image), the table's ``spacing_x, spacing_y[, spacing_z]`` cells of that image,
    the image header (NIfTI, NRRD, DICOM). An image with none of these is refused
    (PNG/BMP/JPEG headers hold none: pass ``spacing=1`` to score in pixels).

    Args:
        data_dir: The folder (required).
        landmarks_file: The table, relative to ``data_dir``: ``.csv``, or ``.json``.
        units: "px" (coordinates are pixel indices) or "mm" (pixel index times spacing).
        spacing: "" (per image, see above), or one number, or one per axis along x, y[, z].
        split_file: Optional ``image,part`` CSV, relative to ``data_dir``, giving the official
            split (used when the file exists; "" for none); without it runs use k-fold.
        landmarks: Comma-separated landmark names: their order, and the only names
            allowed (any other name in the table is reported as a problem).
        ground_truth: "official", the table.
    """

    name = "folder"
    version = "1"
    ndim = 2  # per instance: 3 when the table has a z column
    supported_ndim = (2, 3)  # what ``ls`` shows
    landmark_names: tuple[str, ...] = ()  # per instance, from the table or the option
    ground_truth_options = ("official",)
    option_rules: ClassVar[dict[str, Any]] = {"units": choice(*layout.UNITS)}

    def __init__(
        self,
        data_dir: str | None = None,
        landmarks_file: str = layout.LANDMARKS_FILE,
        units: str = "px",
        spacing: str = "",
        split_file: str = layout.SPLIT_FILE,
        landmarks: str = "",
        ground_truth: str | None = None,
    ) -> None:
        super().__init__(ground_truth)
        self.data_dir = require_data_dir(data_dir, self.name)
        if units not in layout.UNITS:
            raise UsageError(
                f"folder units must be one of {', '.join(layout.UNITS)}, got {units!r}; use "
                "px for pixel indices or mm for millimetres (pixel index times spacing)."
            )
        self.units = units
        self.landmarks_file = landmarks_file or layout.LANDMARKS_FILE
        self.split_file = split_file or ""
        self.table = layout.read_table(self.data_dir / self.landmarks_file, self.landmarks_file)
        self.ndim = self.table.ndim  # type: ignore[misc]
        self.spacing_text = spacing or ""
        self.spacing_xyz = layout.parse_spacing_option(spacing, self.ndim)
        self.declared_names = layout.parse_names_option(landmarks)
        self.landmark_names = self.declared_names or self.table.landmark_names()
        self._spacing: dict[str, np.ndarray] = {}

    # ----------------------------------------------------------------- public interface

    def options(self) -> dict[str, Any]:
        """The options that change the data (recorded and hashed with results): the table
        and units always, the others when they are in use."""
        options: dict[str, Any] = {"landmarks_file": self.landmarks_file, "units": self.units}
        if self.spacing_text:
            options["spacing"] = self.spacing_text
        if self.split_path() is not None:
            options["split_file"] = self.split_file
        if self.declared_names:
            options["landmarks"] = ",".join(self.declared_names)
        return options

    def case_ids(self) -> list[str]:
        """Every image named in the table, sorted (whether or not it is on disk:
        ``check_inputs`` refuses a missing one by name)."""
        return self.table.images()

    def image_path(self, case_id: str) -> Path:
        """The image file of a case."""
        return self.data_dir / case_id

    def split_path(self) -> Path | None:
        """The split file when the option names one that exists, else None."""
        if not self.split_file:
            return None
        path = self.data_dir / self.split_file
        return path if path.is_file() else None

    def official_split(self) -> dict[str, list[str]] | None:
        """{"train": [...], "<test part>": [...]} from the split file, or None (k-fold).

        Raises:
            DataError: if the split file cannot be read or has a bad row.
        """
        path = self.split_path()
        if path is None:
            return None
        parts, problems = layout.read_split(path, self.split_file)
        if problems:
            raise DataError(f"{problems[0]} Fix the split file, or pass split_file= for none.")
        return {part: sorted(images) for part, images in parts.items()}

    def check_inputs(self) -> None:
        """Refuse before training what ``validate`` reports for the cases a run uses (bad
        table rows, missing or unreadable images, landmarks outside their image or not
        finite, images without spacing, a bad split file), naming file and row.

        Raises:
            DataError: for the first problem, with the fix.
        """
        from landmarkbench.datasets.folder.tree import folder_problems
        from landmarkbench.datasets.real_data import refuse_problems

        if not self.case_ids():
            raise DataError(
                f"Landmarks file '{self.landmarks_file}' in '{self.data_dir}' names no image; "
                "add rows image,landmark,x,y (or write an example with 'landmarkbench fixture "
                "folder --out DIR')."
            )
        refuse_problems(folder_problems(self, strays=False), self.name, self.data_dir)

    def spacing_of(self, case_id: str) -> np.ndarray:
        """(d,) mm per pixel along each array axis of ``case_id``'s image.

        Raises:
            DataError: if no source gives one (see the class docstring).
        """
        if case_id not in self._spacing:
            self._spacing[case_id] = self._find_spacing(case_id)
        return self._spacing[case_id]

    def landmarks_of(self, case_id: str, fmt: str, spacing: np.ndarray) -> np.ndarray:
        """(C, d) landmarks of ``case_id`` in array-index order, NaN where missing; rows
        with a name outside the declared list are left out (``validate`` reports them)."""
        points = np.full((self.num_landmarks, self.ndim), np.nan)
        index = {name: k for k, name in enumerate(self.landmark_names)}
        for entry in self.table.entries_of(case_id):
            if entry.landmark in index:
                point = layout.to_array_order(entry.xyz, fmt)
                points[index[entry.landmark]] = point / spacing if self.units == "mm" else point
        return points

    def load(self, case_id: str) -> Case:
        """One case: lazy image, landmarks in array-index pixels, spacing in mm.

        Raises:
            DataError: if the case is unknown, its image missing or unreadable, or it has
                no spacing.
        """
        from landmarkbench.imageio import image_format, read_image, read_image_shape

        if case_id not in set(self.case_ids()):
            raise DataError(
                f"Case {case_id!r} is not an image of '{self.landmarks_file}'; case ids are "
                "the image paths of its image column."
            )
        path = self.image_path(case_id)
        fmt = image_format(path)
        spacing = self.spacing_of(case_id)
        return Case(
            case_id=case_id,
            landmarks=self.landmarks_of(case_id, fmt, spacing),
            spacing=spacing,
            image_shape=read_image_shape(path),
            image_reader=lambda: read_image(path).array,
            source=str(path),
            extra={"format": fmt},
        )

    def _find_spacing(self, case_id: str) -> np.ndarray:
        from landmarkbench.imageio import image_format, read_image

        path = self.image_path(case_id)
        fmt = image_format(path)
        if self.spacing_xyz is not None:
            return layout.to_array_order(self.spacing_xyz, fmt)
        given = {e.spacing_xyz for e in self.table.entries_of(case_id)} - {None}
        if len(given) == 1:
            return layout.to_array_order(given.pop(), fmt)  # type: ignore[arg-type]
        if len(given) > 1:
            raise DataError(
                f"{self.landmarks_file}: the rows of image {case_id!r} give different "
                f"spacings ({', '.join(map(str, sorted(given)))}); give one per image."  # type: ignore[type-var]
            )
        header = read_image(path).spacing
        if header is None:
            raise DataError(
                f"Image '{case_id}' has no spacing: its {fmt.upper()} header holds none and "
                f"'{self.landmarks_file}' has no spacing_x, spacing_y cells for it; add them, "
                "or pass --data-option spacing=MM (spacing=1 scores in pixels)."
            )
        if len(header) != self.ndim:
            raise DataError(
                f"Image '{case_id}' is {len(header)}D but '{self.landmarks_file}' is "
                f"{self.ndim}D ({'a z column' if self.ndim == 3 else 'no z column'}); keep "
                "one dimension per folder."
            )
        return np.asarray(header, dtype=np.float64)

    # ------------------------------------------------------------ validate and fixture

    @classmethod
    def validate_tree(
        cls,
        data_dir: Path,
        landmarks_file: str = layout.LANDMARKS_FILE,
        units: str = "px",
        spacing: str = "",
        split_file: str = layout.SPLIT_FILE,
        landmarks: str = "",
        ground_truth: str | None = None,
    ) -> list[Problem]:
        """Every problem of the folder (``tree.folder_problems``, including images on disk
        that the table does not name); reads only.

        Raises:
            UsageError: for a bad option.
        """
        from landmarkbench.datasets.folder.tree import folder_problems

        try:
            dataset = cls(
                data_dir=str(data_dir),
                landmarks_file=landmarks_file,
                units=units,
                spacing=spacing,
                split_file=split_file,
                landmarks=landmarks,
                ground_truth=ground_truth,
            )
        except DataError as exc:
            return [Problem(landmarks_file or layout.LANDMARKS_FILE, str(exc))]
        return folder_problems(dataset, strays=True)

    @classmethod
    def write_fixture(
        cls,
        root: Path,
        fmt: str = "png",
        n_images: int = 8,
        image_shape: Sequence[int] = (),
        split: bool = False,
        seed: int = 0,
    ) -> Path:
        """A miniature folder dataset (``tree.write_folder_fixture``); returns ``root``."""
        from landmarkbench.datasets.folder.tree import write_folder_fixture

        return write_folder_fixture(
            Path(root), fmt=fmt, n_images=n_images, image_shape=image_shape, split=split, seed=seed
        )
