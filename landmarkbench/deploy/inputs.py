"""The images predict reads, checked before anything is predicted or written.

Files and folders (every supported image file under a folder, sorted) become one case per
file, read through ``imageio`` (the package's one axis convention); each image's spacing is,
first found: ``--spacing`` (along x, y[, z]), the image header (NIfTI, NRRD, DICOM), the
spacing every image of the model's training data had. A run's dataset part (``--part``)
gives that part's cases as the run loaded them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmarkbench.datasets.base import Case
from landmarkbench.datasets.folder.layout import COORDINATE_COLUMNS, to_array_order
from landmarkbench.errors import DataError, UsageError
from landmarkbench.imageio import image_format, read_image, read_image_shape

# Formats whose headers may carry a spacing (imageio reads it); the others never do.
HEADER_SPACING_FORMATS = frozenset({"nifti", "nrrd", "dicom"})


@dataclass(frozen=True)
class InputImage:
    """One image to predict: its name in the outputs, its format and where it comes from
    (a file, or a case of a dataset part)."""

    name: str
    format: str
    path: Path | None = None
    case: Case | None = None


def parse_spacing(text: str | None, ndim: int) -> tuple[float, ...] | None:
    """``--spacing``: one positive number (every axis) or one per x, y[, z].

    Raises:
        UsageError: for anything else.
    """
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in str(text).replace(" ", "").split(","))
    except ValueError:
        values = ()
    values = values * ndim if len(values) == 1 else values
    if len(values) != ndim or not all(math.isfinite(v) and v > 0 for v in values):
        axes = ", ".join(COORDINATE_COLUMNS[:ndim])
        raise UsageError(
            f"--spacing {text!r} must be one positive number (mm per pixel on every axis) or "
            f"{ndim} along {axes}, e.g. --spacing 0.1 or --spacing {','.join(['0.1'] * ndim)}."
        )
    return values


def image_files(paths: Sequence[Path]) -> list[InputImage]:
    """The image files named by ``paths`` (files, or folders searched recursively), in
    order, named by their path relative to the folder given (files by their name).

    Raises:
        UsageError: for a path that does not exist, a folder without images or no path.
    """
    found: list[InputImage] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = []
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                try:
                    fmt = image_format(file)
                except DataError:
                    continue
                inside.append(InputImage(file.relative_to(path).as_posix(), fmt, file))
            if not inside:
                raise UsageError(
                    f"Folder '{path}' holds no image file of a supported format; pass image "
                    "files or a folder of them."
                )
            found += inside
        elif path.is_file():
            found.append(InputImage(path.name, image_format(path), path))
        else:
            raise UsageError(f"Image '{path}' does not exist; pass existing files or folders.")
    if not found:
        raise UsageError("No images given; pass image files or folders, or --part with --run.")
    names = [i.name for i in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(
            f"Image name {twice[0]!r} is given twice; pass each image once (outputs name "
            "images by their path relative to the folder given)."
        )
    return found


def check_images(
    images: Sequence[InputImage], ndim: int, spacing: tuple[float, ...] | None,
    fallback_spacing: tuple[float, ...] | None,
) -> None:  # fmt: skip
    """Refuse, before predicting, an unreadable file, an image of the wrong dimension, or an
    image whose spacing no rule gives (headers only: fast).

    Raises:
        DataError: naming the file and the fix.
    """
    for image in images:
        if image.path is None:
            continue
        shape = read_image_shape(image.path)  # DataError names an unreadable file
        if len(shape) != ndim:
            raise DataError(
                f"Image '{image.path}' is {len(shape)}-D (shape {shape}) but the model takes "
                f"{ndim}-D images; pass {ndim}-D images."
            )
        no_rule = spacing is None and fallback_spacing is None
        if no_rule and image.format not in HEADER_SPACING_FORMATS:
            raise DataError(
                f"Image '{image.path}' ({image.format}) has no spacing in its header and the "
                "model's training images had no single spacing; pass --spacing (mm per pixel)."
            )


def load_case(
    image: InputImage, spacing: tuple[float, ...] | None,
    fallback_spacing: tuple[float, ...] | None,
) -> Case:  # fmt: skip
    """The case of ``image``: its pixels and spacing (mm per array axis) by the rule above.

    Raises:
        DataError: for an unreadable file or a spacing no rule gives.
    """
    if image.case is not None:
        return image.case
    assert image.path is not None
    loaded = read_image(image.path)
    ndim = loaded.array.ndim
    if spacing is not None:
        chosen = tuple(to_array_order(spacing, image.format))
    elif loaded.spacing is not None:
        chosen = tuple(float(s) for s in loaded.spacing)
    elif fallback_spacing is not None:
        chosen = tuple(fallback_spacing)
    else:
        raise DataError(
            f"Image '{image.path}' has no spacing in its header and the model's training "
            "images had no single spacing; pass --spacing (mm per pixel)."
        )
    return Case.in_memory(
        image.name,
        loaded.array,
        np.full((0, ndim), np.nan),
        np.asarray(chosen, dtype=np.float64),
        source=str(image.path),
    )


def case_format(case: Case) -> str:
    """The format whose axis convention a dataset case's outputs follow: its file's, else a
    picture's in 2D and a volume's in 3D."""
    if case.source:
        try:
            return image_format(case.source)
        except DataError:
            pass
    return "png" if case.ndim == 2 else "npy"
