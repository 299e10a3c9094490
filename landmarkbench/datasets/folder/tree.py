"""Checks of a folder dataset (shared by ``validate`` and ``run``) and its fixture writer."""

from __future__ import annotations

import csv
import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from landmarkbench.acquire.validation import Problem, landmark_problem
from landmarkbench.datasets.folder import layout
from landmarkbench.errors import DataError, UsageError


class FolderDataset(Protocol):
    """What the checks read of a folder dataset (the adapter's ``FolderDataset``); a
    protocol, so this module imports the layout, never the adapter."""

    data_dir: Path
    table: layout.Table
    split_file: str
    declared_names: tuple[str, ...] | None
    landmark_names: tuple[str, ...]

    def case_ids(self) -> list[str]: ...
    def image_path(self, case_id: str) -> Path: ...
    def split_path(self) -> Path | None: ...
    def spacing_of(self, case_id: str) -> np.ndarray: ...
    def landmarks_of(self, case_id: str, fmt: str, spacing: np.ndarray) -> np.ndarray: ...


_FIX = (
    "check the row's coordinates, x = column and y = row for pictures (i, j, k for "
    "NIfTI/NRRD), and the units (--data-option units=mm for millimetres)."
)


def folder_problems(dataset: FolderDataset, strays: bool) -> list[Problem]:
    """Every problem of the folder, each naming its file (and row of the table).

    The table's bad rows and columns; landmark names outside the declared list, or that
    look like a misspelling of a more frequent one; per image: missing, unreadable, of
    another dimension than the table, without spacing, or with a landmark outside it or
    not finite (``validation.landmark_problem``, the rule ``run`` applies too); the split
    file's problems; with ``strays``, images on disk that the table does not name.
    Reads image headers (and whole images only where the spacing comes from the header).
    """
    from landmarkbench.imageio import image_format, read_image_shape

    table = dataset.table
    problems = list(table.problems) + _name_problems(dataset)
    for image in table.images():
        path = dataset.image_path(image)
        first = table.entries_of(image)[0].row
        if not path.is_file():
            problems.append(
                Problem(
                    image,
                    f"is named in {table.name} {table.record} {first} but is not in the data "
                    "folder; copy the image there or delete its rows.",
                )
            )
            continue
        try:
            fmt = image_format(path)
            shape = read_image_shape(path)
            if len(shape) != table.ndim:
                raise DataError(
                    f"is {len(shape)}D but {table.name} is {table.ndim}D "
                    f"({'it has a z column' if table.ndim == 3 else 'it has no z column'}); "
                    "keep images of one dimension per folder."
                )
            spacing = dataset.spacing_of(image)
        except DataError as exc:
            problems.append(Problem(image, str(exc)))
            continue
        entries = {e.landmark: e for e in table.entries_of(image)}
        outside = landmark_problem(
            dataset.landmarks_of(image, fmt, spacing),
            shape,
            _FIX,
            line_of=lambda k, image=image, entries=entries: _place(
                table, image, dataset.landmark_names[k], entries
            ),
        )
        if outside:
            problems.append(Problem(table.name, outside))
    problems += _split_problems(dataset)
    if strays:
        problems += _stray_images(dataset)
    return problems


def _place(table: layout.Table, image: str, name: str, entries: dict) -> str:
    entry = entries.get(name)
    where = f"{table.record} {entry.row}" if entry else "(no row)"
    return f"{where} (image {image!r}, landmark {name!r})"


def _name_problems(dataset: FolderDataset) -> list[Problem]:
    """Names outside the declared list, or (without one) a rarer near-twin of a name."""
    table = dataset.table
    counts: dict[str, int] = {}
    first_row: dict[str, int] = {}
    for entry in table.entries:
        counts[entry.landmark] = counts.get(entry.landmark, 0) + 1
        first_row.setdefault(entry.landmark, entry.row)
    problems = []
    for name, count in counts.items():
        where = f"{table.record} {first_row[name]}"
        if dataset.declared_names is not None:
            if name not in dataset.declared_names:
                close = difflib.get_close_matches(name, dataset.declared_names, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                problems.append(
                    Problem(
                        table.name,
                        f"{where}: landmark {name!r} ({count} row(s)) is not in the declared "
                        f"landmarks ({', '.join(dataset.declared_names)}); {hint}correct it, "
                        "or add it to --data-option landmarks=...",
                    )
                )
            continue
        others = [n for n in counts if n != name and counts[n] > count]
        close = difflib.get_close_matches(name, others, n=1, cutoff=0.8)
        if close:
            problems.append(
                Problem(
                    table.name,
                    f"{where}: landmark {name!r} ({count} row(s)) looks like a misspelling of "
                    f"{close[0]!r} ({counts[close[0]]} rows); correct it, or declare the names "
                    "with --data-option landmarks=NAME1,NAME2,... if both are meant.",
                )
            )
    return problems


def _split_problems(dataset: FolderDataset) -> list[Problem]:
    path = dataset.split_path()
    if path is None:
        return []
    try:
        parts, problems = layout.read_split(path, dataset.split_file)
    except DataError as exc:
        return [Problem(dataset.split_file, str(exc))]
    listed = {image for images in parts.values() for image in images}
    named = set(dataset.case_ids())
    for image in sorted(listed - named):
        problems.append(
            Problem(
                dataset.split_file,
                f"image {image!r} is not in {dataset.table.name}; remove it from the split or "
                "add its landmarks.",
            )
        )
    left_out = sorted(named - listed)
    if left_out:
        shown = ", ".join(left_out[:3]) + (", ..." if len(left_out) > 3 else "")
        problems.append(
            Problem(
                dataset.split_file,
                f"leaves out {len(left_out)} image(s) of {dataset.table.name} ({shown}); give "
                "every image a part (train or a test set).",
            )
        )
    return problems


def _image_suffix(path: Path) -> bool:
    from landmarkbench.image_codecs import OTHER_SUFFIXES, PIL_SUFFIXES

    name = path.name.lower()
    return name.endswith(".nii.gz") or path.suffix.lower() in {*PIL_SUFFIXES, *OTHER_SUFFIXES}


def _stray_images(dataset: FolderDataset) -> list[Problem]:
    """Image files under the data folder that the table does not name."""
    named = set(dataset.case_ids())
    problems = []
    for path in sorted(dataset.data_dir.rglob("*")):
        relative = path.relative_to(dataset.data_dir).as_posix()
        if any(part.startswith(".") for part in Path(relative).parts):
            continue
        if path.is_file() and _image_suffix(path) and relative not in named:
            problems.append(
                Problem(
                    relative,
                    f"is an image that {dataset.table.name} does not name; add its landmark "
                    "rows, or move it out of the data folder.",
                )
            )
    return problems


# ----------------------------------------------------------------------- fixtures

FIXTURE_LANDMARKS = ("sella", "nasion", "menton", "gonion")
_FORMATS = {"png": (".png", 2), "nifti": (".nii.gz", 3), "nrrd": (".nrrd", 3)}


def write_folder_fixture(
    root: Path,
    fmt: str = "png",
    n_images: int = 8,
    image_shape: Sequence[int] = (),
    split: bool = False,
    seed: int = 0,
) -> Path:
    """Write a miniature folder dataset and return ``root``.

    ``images/case_NN.<suffix>`` with a bright spot at each of 4 landmarks, and
    ``landmarks.csv`` (``image,landmark,x,y[,z]`` in pixels; case_01's gonion is missing,
    written with empty cells). PNG images (2D) carry spacing 0.1 mm in ``spacing_x,
    spacing_y`` columns; NIfTI and NRRD volumes (3D) carry theirs, (1.0, 0.8, 1.2) mm, in
    the header. With ``split`` a ``split.csv`` puts the last quarter of the images in
    ``test``.

    Args:
        root: Folder to write into (created).
        fmt: "png" (2D), "nifti" or "nrrd" (3D).
        n_images: Number of images (at least 4).
        image_shape: (rows, cols) or (i, j, k); default (40, 48) in 2D, (16, 20, 12) in 3D.
        split: Also write ``split.csv``.
        seed: Seed of the positions and noise.

    Raises:
        UsageError: for an unknown format, too few images or a bad shape.
    """
    from landmarkbench.imageio import write_image

    if fmt not in _FORMATS:
        raise UsageError(
            f"folder fixture fmt must be one of {', '.join(_FORMATS)}, got {fmt!r}; use png "
            "for 2D images or nifti for 3D volumes."
        )
    suffix, ndim = _FORMATS[fmt]
    fmt_name = "png" if ndim == 2 else "nifti"  # the axis family of layout.axis_of_xyz
    shape = tuple(int(s) for s in image_shape) or ((40, 48) if ndim == 2 else (16, 20, 12))
    if len(shape) != ndim or min(shape) < 8:
        raise UsageError(
            f"folder fixture image_shape must be {ndim} sizes of at least 8 for fmt={fmt}, "
            f"got {image_shape!r}; e.g. image_shape={'40,48' if ndim == 2 else '16,20,12'}."
        )
    if n_images < 4:
        raise UsageError(f"folder fixture n_images must be at least 4, got {n_images}.")
    rng = np.random.default_rng(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    spacing = (0.1, 0.1) if ndim == 2 else (1.0, 0.8, 1.2)
    base = rng.uniform(0.25, 0.75, size=(len(FIXTURE_LANDMARKS), ndim)) * (np.array(shape) - 1)
    header = ["image", "landmark", *layout.COORDINATE_COLUMNS[:ndim]]
    if ndim == 2:
        header += list(layout.SPACING_COLUMNS[:2])
    rows, images = [], []
    for number in range(1, n_images + 1):
        image = f"images/case_{number:02d}{suffix}"
        points = np.clip(base + rng.normal(0, 1.5, size=base.shape), 0, np.array(shape) - 1)
        points = np.round(points, 1)
        volume = rng.uniform(0, 40, size=shape)
        grid = np.indices(shape)
        for point in points:
            distance = sum((grid[a] - point[a]) ** 2 for a in range(ndim))
            volume += 200 * np.exp(-distance / 4.0)
        array = np.clip(np.round(volume), 0, 255).astype(np.uint8)
        write_image(root / image, array, None if ndim == 2 else spacing)
        for name, point in zip(FIXTURE_LANDMARKS, points, strict=True):
            cells = [f"{v:g}" for v in layout.from_array_order(point, fmt_name)]
            if number == 1 and name == "gonion":
                cells = [""] * ndim  # a missing landmark
            extra = [f"{s:g}" for s in spacing] if ndim == 2 else []
            rows.append([image, name, *cells, *extra])
        images.append(image)
    with open(root / layout.LANDMARKS_FILE, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *rows])
    if split:
        n_test = max(1, n_images // 4)
        parts = [
            [image, "test" if k >= n_images - n_test else "train"] for k, image in enumerate(images)
        ]
        with open(root / layout.SPLIT_FILE, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerows([["image", "part"], *parts])
    return root
