"""Shared parts of the multi-instance 2D point datasets (EndoVis 2015, AdaptOR sutures).

These datasets have no pixel spacing: every case gets spacing (1.0, 1.0), so "mm" figures
(errors, SDR radii) are pixels. Points are stored per class as (k, 2) arrays in (row, col)
order, converted from the files' ``x`` (column) and ``y`` (row), with k possibly 0.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from landmarkbench.acquire.validation import Problem
from landmarkbench.datasets.base import Case, LandmarkDataset
from landmarkbench.errors import DataError

UNIT_SPACING = (1.0, 1.0)


class MultiInstancePointDataset(LandmarkDataset):
    """Base of the 2D multi-instance point datasets: classes with 0..n points per frame.

    ``landmark_names`` names the classes; ``Case.landmarks`` is (0, 2) and
    ``Case.instances`` holds one (k, 2) (row, col) array per class. Errors are in pixels.
    Subclasses name their manifest, which gives the facts (``LandmarkDataset``); the
    manifests of these datasets say ``ndim: 2``, ``multi_instance: true``.
    """

    ndim = 2
    multi_instance = True
    # A prediction matches a truth only within this radius (6 px in Sharan et al. 2021).
    match_radius_px: ClassVar[float] = 6.0

    def check_inputs(self) -> None:
        """Refuse before training a tree without frames, and points outside their frame
        (``outside_points``, the rule ``validate`` applies; frame shapes from headers).

        Raises:
            DataError: for the first problem, with the fix.
        """
        from landmarkbench.datasets.real_data import refuse_problems

        super().check_inputs()
        problems = []
        for case_id in self.case_ids():
            try:
                case = self.load(case_id)
            except DataError as error:
                problems.append(Problem(case_id, str(error)))
                continue
            points = [
                (f"{name} #{k}", float(row), float(col))
                for name, rows_cols in zip(self.landmark_names, case.instances or (), strict=True)
                for k, (row, col) in enumerate(rows_cols)
            ]
            problems += [Problem(case_id, m) for m in outside_points(points, case.shape)]
        refuse_problems(problems, self.name, Path(getattr(self, "data_dir", ".")))


def file_basename(filename: str) -> str:
    """Last component of a path written on any machine (``/`` or ``\\`` separators)."""
    return re.split(r"[\\/]", filename.strip())[-1]


def read_json(path: Path) -> Any:
    """The parsed JSON file.

    Raises:
        DataError: if the file is missing or is not valid JSON.
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise DataError(f"Annotation file '{path}' is missing; extract the annotations.") from error
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise DataError(
            f"Annotation file '{path}' is not valid JSON ({error}); restore the original file."
        ) from error


def point_row_col(entry: Any, where: str) -> tuple[float, float]:
    """(row, col) = (y, x) of a point entry ``{"x": .., "y": ..}``.

    Raises:
        DataError: if the entry is not a mapping with finite numeric ``x`` and ``y``.
    """
    values = []
    for key in ("y", "x"):
        value = entry.get(key) if isinstance(entry, Mapping) else None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise DataError(
                f"Point {entry!r} in {where} needs finite numbers 'x' (column) and 'y' (row), "
                f"got {key}={value!r}; fix or re-download the annotation file."
            )
        values.append(float(value))
    return values[0], values[1]


def as_instances(
    points: Mapping[str, Sequence[tuple[float, float]]], class_names: Sequence[str]
) -> tuple[np.ndarray, ...]:
    """One float64 (k, 2) array per class, in ``class_names`` order (k may be 0)."""
    return tuple(
        np.asarray(points.get(name, ()), dtype=np.float64).reshape(-1, 2) for name in class_names
    )


def frame_case(
    case_id: str,
    path: Path,
    instances: tuple[np.ndarray, ...],
    extra: Mapping[str, Any] | None = None,
) -> Case:
    """A lazy multi-instance case for one frame (shape from the file header, spacing 1 px).

    Raises:
        DataError: if the frame file is missing or unreadable.
    """
    from landmarkbench.imageio import read_image, read_image_shape

    if not path.is_file():
        raise DataError(
            f"Frame '{path}' of case {case_id!r} is missing; extract the frames to that path "
            "(see the adapter's docstring for the expected layout)."
        )
    shape = tuple(int(s) for s in read_image_shape(path))[:2]
    return Case(
        case_id=case_id,
        landmarks=np.zeros((0, 2)),
        spacing=np.array(UNIT_SPACING),
        image_shape=shape,
        image_reader=lambda: read_image(path).array,
        instances=instances,
        source=str(path),
        extra=dict(extra or {}),
    )


def decoded_shape(path: Path, shown: str, problems: list[Problem]) -> tuple[int, int] | None:
    """Decode a frame; its (rows, cols), or None after appending the problem."""
    from landmarkbench.imageio import read_image

    if not path.is_file():
        problems.append(Problem(shown, "frame image is missing."))
        return None
    try:
        array = read_image(path).array
    except DataError as error:
        problems.append(Problem(shown, str(error)))
        return None
    if array.ndim != 2:
        problems.append(Problem(shown, f"decodes to a {array.ndim}D array; frames are 2D."))
        return None
    return int(array.shape[0]), int(array.shape[1])


def outside_points(points: Sequence[tuple[str, float, float]], shape: tuple[int, int]) -> list[str]:
    """Messages for (label, row, col) points outside an image of ``shape`` (rows, cols)."""
    rows, cols = shape
    messages = []
    for label, row, col in points:
        if not (-0.5 <= row <= rows - 0.5 and -0.5 <= col <= cols - 0.5):
            hint = (
                " (it would fit with x and y swapped)"
                if -0.5 <= col <= rows - 0.5 and -0.5 <= row <= cols - 0.5
                else ""
            )
            messages.append(
                f"point {label} at x={col:g}, y={row:g} lies outside the {cols} x {rows} "
                f"(width x height) image{hint}; x is the column and y the row."
            )
    return messages


def shown_path(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` in POSIX form where possible (for problem reports)."""
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return str(path)
