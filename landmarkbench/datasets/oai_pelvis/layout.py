"""The OAI pelvis annotation release on disk: its two tables and how rows find their images.

``Coordinates_information`` has a column ``image_name`` and 16 coordinate columns, 8 x (x, y)
in landmark order; ``original_information`` has ``image_file`` and the per-image spacing in
``image_resolution1`` and ``image_resolution2``. Both may be ``.xlsx`` or ``.csv``. pandas is
imported inside the functions so that listing datasets stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.errors import DataError, UsageError

NUM_LANDMARKS = 8
COORDINATES_TABLE = "Coordinates_information"
SPACING_TABLE = "original_information"
TABLE_SUFFIXES = (".xlsx", ".csv")
IMAGE_SUFFIXES = (".dcm", ".png")
# Suffixes stripped from table names to get a case id (DICOM UIDs contain dots, so only
# known image suffixes are removed).
_KNOWN_SUFFIXES = (".dcm", ".dicom", ".png")
# NIMH Data Archive image03 convention: axis 1 is x (columns), axis 2 is y (rows).
COL_SPACING_COLUMN = "image_resolution1"
ROW_SPACING_COLUMN = "image_resolution2"
_FIX = "fix the table or re-download the annotation release"


@dataclass(frozen=True)
class CoordinateRow:
    """One row of the coordinates table: the name as listed and the stored (x, y) values."""

    listed_name: str
    stored_xy: np.ndarray


def case_id_of(name: Any) -> str:
    """The case id of a listed image name: its base name without a known image suffix."""
    base = str(name).strip().replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in _KNOWN_SUFFIXES:
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


def find_table(data_dir: Path, stem: str) -> Path:
    """``<stem>.xlsx`` or ``<stem>.csv`` in ``data_dir`` (xlsx first).

    Raises:
        DataError: if neither exists.
    """
    for suffix in TABLE_SUFFIXES:
        path = data_dir / f"{stem}{suffix}"
        if path.is_file():
            return path
    raise DataError(
        f"OAI pelvis table '{stem}.xlsx' (or .csv) is not in '{data_dir}'; put the annotation "
        "release's tables directly in data_dir."
    )


def read_table(path: Path) -> Any:
    """The table as a pandas DataFrame.

    Raises:
        DataError: if the file cannot be read as a table.
    """
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_excel(path)
    except Exception as exc:  # pandas and openpyxl raise many types for a broken file
        raise DataError(
            f"OAI pelvis table '{path.name}' cannot be read ({type(exc).__name__}: {exc}); "
            "open it in a spreadsheet program and save it again as .xlsx or .csv."
        ) from None


def _require_columns(frame: Any, columns: tuple[str, ...], display: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"OAI pelvis table '{display}' has no column {missing[0]!r} (columns: "
            f"{', '.join(map(str, frame.columns))}); {_FIX}."
        )


def _unique_ids(names: Any, display: str, column: str) -> list[str]:
    ids = [case_id_of(n) for n in names]
    seen: set[str] = set()
    for case_id in ids:
        if case_id in seen:
            raise DataError(
                f"OAI pelvis table '{display}' lists image {case_id!r} twice in column "
                f"{column!r}; keep one row per image ({_FIX})."
            )
        seen.add(case_id)
    return ids


def coordinate_rows(frame: Any, display: str) -> dict[str, CoordinateRow]:
    """``{case_id: CoordinateRow}`` from the coordinates table (NaN where missing).

    The 16 coordinate columns are all columns but ``image_name`` and unnamed index columns,
    in table order: x1, y1, x2, y2, ...

    Raises:
        DataError: for a missing ``image_name`` column, a wrong number of coordinate columns,
            non-numeric values or a repeated image.
    """
    _require_columns(frame, ("image_name",), display)
    value_columns = [
        c for c in frame.columns if c != "image_name" and not str(c).startswith("Unnamed")
    ]
    if len(value_columns) != 2 * NUM_LANDMARKS:
        raise DataError(
            f"OAI pelvis table '{display}' has {len(value_columns)} coordinate columns "
            f"besides image_name; it needs {2 * NUM_LANDMARKS} (8 landmarks x (x, y)); {_FIX}."
        )
    try:
        values = frame[value_columns].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise DataError(
            f"OAI pelvis table '{display}' has non-numeric coordinates in columns "
            f"{', '.join(map(str, value_columns))}; {_FIX}."
        ) from None
    names = [str(n).strip() for n in frame["image_name"]]
    ids = _unique_ids(names, display, "image_name")
    return {
        case_id: CoordinateRow(name, row.reshape(NUM_LANDMARKS, 2))
        for case_id, name, row in zip(ids, names, values, strict=True)
    }


def spacing_rows(frame: Any, display: str) -> dict[str, np.ndarray]:
    """``{case_id: (row spacing, col spacing)}`` in mm from the spacing table.

    ``image_resolution1`` is the column (x) spacing and ``image_resolution2`` the row (y)
    spacing, following the NIMH Data Archive image03 fields the table comes from.

    Raises:
        DataError: for missing columns or a repeated image.
    """
    columns = ("image_file", COL_SPACING_COLUMN, ROW_SPACING_COLUMN)
    _require_columns(frame, columns, display)
    ids = _unique_ids(frame["image_file"], display, "image_file")
    rows = frame[ROW_SPACING_COLUMN].to_numpy()
    cols = frame[COL_SPACING_COLUMN].to_numpy()
    return {
        case_id: np.array([_number(r), _number(c)])
        for case_id, r, c in zip(ids, rows, cols, strict=True)
    }


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def spacing_problem(spacing: np.ndarray | None, case_id: str, display: str) -> str | None:
    """A sentence if ``case_id`` has no usable spacing in the spacing table, else None."""
    if spacing is None:
        return (
            f"Image {case_id!r} has no row in '{display}' (column image_file); every image "
            f"needs its spacing; {_FIX}."
        )
    if not (np.isfinite(spacing).all() and (spacing > 0).all()):
        return (
            f"Image {case_id!r} has spacing {spacing.tolist()} mm in '{display}'; spacings "
            f"must be positive numbers; {_FIX}."
        )
    return None


def find_image(image_dir: Path, row: CoordinateRow, case_id: str) -> Path | None:
    """The image file of a row: the listed name, else ``<id>.dcm``, ``<id>.png`` or ``<id>``."""
    listed = str(row.listed_name).replace("\\", "/").rsplit("/", 1)[-1]
    names = [listed, *(case_id + s for s in IMAGE_SUFFIXES), case_id]
    for name in dict.fromkeys(names):
        path = image_dir / name
        if path.is_file():
            return path
    return None


def check_coordinate_scale(value: Any) -> float:
    """``value`` as a positive float, or a UsageError sentence."""
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = float("nan")
    if not np.isfinite(scale) or scale <= 0:
        raise UsageError(
            f"oai_pelvis coordinate_scale must be a positive number, got {value!r}; use 4.0 "
            "(landmarker's choice for the released tables) or 1.0 for coordinates that "
            "already live on the image grid."
        )
    return scale
