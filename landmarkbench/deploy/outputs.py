"""Predicted landmarks written as files: CSV, JSON and the CL-Detection challenge CSV.

Coordinates are on each image's original grid: pixels (0-based, pixel centres at integers)
and millimetres (pixels times spacing, from the first pixel's centre). ``x, y[, z]`` follow
the ``folder`` dataset's convention for the image's format (``datasets.folder.layout``:
pictures x = column, y = row; volumes and NPY x, y, z = first, second, third array axis), so
``landmarks.csv`` reads back as a ``folder`` dataset's landmarks file; the JSON also gives the
array-index coordinates. Every file is written atomically.

- ``landmarks.csv``: one row per image and landmark (per instance for multi-instance models):
  ``image, landmark[, instance], x, y[, z], x_mm, y_mm[, z_mm], spacing_x, spacing_y[, ...]``.
- ``landmarks.json``: the model's statement, then per image its shape, spacing and landmarks.
- The two CL-Detection challenge submission layouts (2D, one point per landmark; landmarks
  numbered from 1 in the model's order; pixel coordinates on the original grid, x = column,
  y = row), as the challenges' baseline containers write them:
  - ``cl_detection_2024.csv`` (CL-Detection 2024, the container's ``predictions.csv``): one row
    per image, ``image file, p1x, p1y, ..., pNx, pNy``;
  - ``cl_detection_2023.json`` (CL-Detection 2023, the container's
    ``orthodontic-landmarks.json``): a grand-challenge "Multiple points" document named
    "Orthodontic landmarks", one point per image and landmark, ``{"name": "<landmark number>",
    "point": [x, y, <image number>]}``, images numbered from 1 in the order they were given
    (the 2023 inputs are one stack of images, numbered the same way), and ``version``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.atomic_io import write_text_atomically
from landmarkbench.datasets.folder.layout import COORDINATE_COLUMNS, axis_of_xyz
from landmarkbench.deploy.formats import CL_DETECTION, FILE_NAMES, FORMATS
from landmarkbench.errors import UsageError


@dataclass(frozen=True)
class ImagePrediction:
    """One image's prediction: (C, d) points in array-index order (or C arrays (k, d) for
    multi-instance models), its spacing (mm per array axis) and its format."""

    name: str
    format: str
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    points: Any


def formats_for(asked: Sequence[str], ndim: int, multi_instance: bool) -> list[str]:
    """The formats to write: those asked, or every one that applies (CL-Detection: 2D with
    one point per landmark).

    Raises:
        UsageError: when CL-Detection is asked for where it does not apply.
    """
    fits = ndim == 2 and not multi_instance
    if not asked:
        return [f for f in FORMATS if f not in CL_DETECTION or fits]
    misfit = [f for f in asked if f in CL_DETECTION and not fits]
    if misfit:
        raise UsageError(
            f"--format {misfit[0]} needs a 2D model with one point per landmark; this one is "
            f"{ndim}-D{' multi-instance' if multi_instance else ''}: use --format csv or json."
        )
    return list(dict.fromkeys(asked))


def _points(prediction: ImagePrediction) -> list[tuple[int, int | None, np.ndarray]]:
    """(landmark index, instance or None, point) rows of one image."""
    if isinstance(prediction.points, tuple):
        return [
            (c, k, np.asarray(p))
            for c, points in enumerate(prediction.points)
            for k, p in enumerate(points)
        ]
    return [(c, None, np.asarray(p)) for c, p in enumerate(prediction.points)]


def _xyz(values: np.ndarray, fmt: str) -> list[float]:
    return [float(values[axis]) for axis in axis_of_xyz(fmt, len(values))]


def csv_text(predictions: Sequence[ImagePrediction], names: Sequence[str], multi: bool) -> str:
    ndim = len(predictions[0].shape)
    axes = COORDINATE_COLUMNS[:ndim]
    header = ["image", "landmark", *(["instance"] if multi else []), *axes]
    header += [f"{a}_mm" for a in axes] + [f"spacing_{a}" for a in axes]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for prediction in predictions:
        spacing = np.asarray(prediction.spacing)
        for c, instance, point in _points(prediction):
            px, mm = _xyz(point, prediction.format), _xyz(point * spacing, prediction.format)
            writer.writerow(
                [prediction.name, names[c], *([instance] if multi else [])]
                + [repr(v) for v in (*px, *mm)]
                + [repr(v) for v in _xyz(spacing, prediction.format)]
            )
    return out.getvalue()


def json_text(predictions: Sequence[ImagePrediction], names: Sequence[str], statement: str) -> str:
    images = []
    for prediction in predictions:
        spacing = np.asarray(prediction.spacing)
        axes = axis_of_xyz(prediction.format, len(prediction.shape))
        landmarks = []
        for c, instance, point in _points(prediction):
            entry: dict[str, Any] = {"landmark": names[c]}
            if instance is not None:
                entry["instance"] = instance
            axes_xyz = COORDINATE_COLUMNS[: len(point)]
            entry["px"] = dict(zip(axes_xyz, _xyz(point, prediction.format), strict=True))
            entry["mm"] = dict(zip(axes_xyz, _xyz(point * spacing, prediction.format), strict=True))
            entry["array_index"] = [float(v) for v in point]
            landmarks.append(entry)
        images.append(
            {
                "image": prediction.name,
                "shape": list(prediction.shape),
                "spacing_mm": [float(s) for s in spacing],
                "axes": {
                    a: f"array axis {k}" for a, k in zip(COORDINATE_COLUMNS, axes, strict=False)
                },
                "landmarks": landmarks,
            }
        )
    document = {
        "model": statement,
        "coordinates": "0-based pixel indices on the original grid (pixel centres at "
        "integers); mm = pixels x spacing; spacing_mm and array_index in array-axis order",
        "images": images,
    }
    return json.dumps(document, indent=2) + "\n"


def cl_detection_text(predictions: Sequence[ImagePrediction], count: int) -> str:
    """CL-Detection 2024's ``predictions.csv``: one row per image, pixels, x = column."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["image file", *[f"p{k + 1}{a}" for k in range(count) for a in "xy"]])
    for prediction in predictions:
        row = [prediction.name]
        for _, _, point in _points(prediction):
            row += [repr(v) for v in _xyz(point, "png")]
        writer.writerow(row)
    return out.getvalue()


def cl_detection_2023_text(predictions: Sequence[ImagePrediction]) -> str:
    """CL-Detection 2023's "Multiple points" document: [x, y, image number] per landmark."""
    points = [
        {"name": str(c + 1), "point": [*_xyz(point, "png"), number]}
        for number, prediction in enumerate(predictions, start=1)
        for c, _, point in _points(prediction)
    ]
    document = {
        "name": "Orthodontic landmarks",
        "type": "Multiple points",
        "points": points,
        "version": {"major": 1, "minor": 0},
    }
    return json.dumps(document, indent=4) + "\n"


def write_outputs(
    out: Path, formats: Sequence[str], predictions: Sequence[ImagePrediction],
    names: Sequence[str], statement: str, multi_instance: bool,
) -> list[Path]:  # fmt: skip
    """Write the asked formats into ``out`` (created), each file atomically; returns them.
    Every text is built before the first file is written."""
    texts = {}
    for fmt in formats:
        if fmt == "csv":
            texts[fmt] = csv_text(predictions, names, multi_instance)
        elif fmt == "json":
            texts[fmt] = json_text(predictions, names, statement)
        elif fmt == "cldetection":
            texts[fmt] = cl_detection_text(predictions, len(names))
        else:
            texts[fmt] = cl_detection_2023_text(predictions)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt, text in texts.items():
        path = out / FILE_NAMES[fmt]
        write_text_atomically(path, text)
        written.append(path)
    return written
