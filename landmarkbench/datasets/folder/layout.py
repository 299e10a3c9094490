"""The folder dataset's files: the landmarks table, the split file, and coordinate order.

Landmarks table (``landmarks.csv``, or a ``.json`` list of objects with the same keys), one
row per (image, landmark)::

    image,landmark,x,y[,z][,spacing_x,spacing_y[,spacing_z]]

- ``image``: the image file, relative to the data folder (e.g. ``images/a.png``); it is
  also the case id.
- ``landmark``: the landmark's name. A landmark with no row for an image, or whose
  coordinate cells are all empty, is missing for that image (NaN).
- ``x``, ``y`` (``z``): the position, in pixels (``units=px``, the default) or in mm
  (``units=mm``: pixels times spacing). Pixel centres are at integers and the first
  pixel's centre is 0 (continuous 0-based indices, as ISBI 2015).
  **Axes.** For picture formats (PNG, BMP, JPEG, TIFF, DICOM) ``x`` is the column (left to
  right) and ``y`` the row (top to bottom), as in image viewers, ImageJ and OpenCV. For
  voxel formats (NIfTI, NRRD, NPY) ``x``, ``y``, ``z`` are the voxel indices i, j, k: the
  first, second and third array axis as nibabel, pynrrd and ITK index the file.
  ``to_array_order`` is the only place where this is applied.
- ``spacing_x``, ``spacing_y`` (``spacing_z``), optional: mm per pixel along x, y (z) of
  that image; every row of one image must agree (or leave them empty).

A ``z`` column makes the dataset 3D. Rows are numbered as in a spreadsheet: the header is
row 1, so "row 6" is line 6 of the file; JSON records are numbered from 1.

Split file (optional, ``split.csv``): columns ``image,part``; ``part`` is ``train`` or the
name of a test set (e.g. ``test``). With it the dataset declares an official split; without
it runs use k-fold cross-validation.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from landmarkbench.acquire.validation import Problem
from landmarkbench.errors import DataError, UsageError

LANDMARKS_FILE = "landmarks.csv"
SPLIT_FILE = "split.csv"
UNITS = ("px", "mm")
REQUIRED_COLUMNS = ("image", "landmark", "x", "y")
COORDINATE_COLUMNS = ("x", "y", "z")
SPACING_COLUMNS = ("spacing_x", "spacing_y", "spacing_z")
KNOWN_COLUMNS = (*REQUIRED_COLUMNS, "z", *SPACING_COLUMNS)
# Formats whose files are pictures: x is the column and y the row.
PICTURE_FORMATS = frozenset({"png", "bmp", "jpeg", "tiff", "dicom"})


def axis_of_xyz(fmt: str, ndim: int) -> tuple[int, ...]:
    """The array axis of each of x, y[, z] for an image of format ``fmt``.

    Picture formats: x -> axis 1 (column), y -> axis 0 (row). Voxel formats: x, y, z ->
    axes 0, 1, 2 (the file's voxel indices i, j, k).
    """
    if fmt in PICTURE_FORMATS and ndim == 2:
        return (1, 0)
    return tuple(range(ndim))


def to_array_order(values_xyz: Sequence[float], fmt: str) -> np.ndarray:
    """Values given along x, y[, z] (coordinates or spacing) in array-axis order.

    The one place where the folder format's axes meet the package's convention
    (``datasets.base``: (row, col) in 2D, the voxel index axes in 3D).
    """
    values = np.asarray(values_xyz, dtype=np.float64)
    out = np.empty_like(values)
    for column, axis in enumerate(axis_of_xyz(fmt, len(values))):
        out[axis] = values[column]
    return out


def from_array_order(values: Sequence[float], fmt: str) -> np.ndarray:
    """The inverse of ``to_array_order``: array-axis order to x, y[, z] (fixture writer)."""
    values = np.asarray(values, dtype=np.float64)
    return values[list(axis_of_xyz(fmt, len(values)))]


@dataclass(frozen=True)
class Entry:
    """One parsed row of the landmarks table.

    Attributes:
        row: Spreadsheet row (header = 1) or JSON record number (from 1).
        image: Image path relative to the data folder, with forward slashes.
        landmark: Landmark name.
        xyz: x, y[, z] in the table's units; all NaN when the landmark is missing.
        spacing_xyz: mm per pixel along x, y[, z] from the spacing columns, or None.
    """

    row: int
    image: str
    landmark: str
    xyz: tuple[float, ...]
    spacing_xyz: tuple[float, ...] | None


@dataclass
class Table:
    """The landmarks table: parsed entries and the problems of the rows that did not parse.

    Attributes:
        name: The file as shown in messages (relative to the data folder).
        ndim: 3 when the table has a ``z`` column, else 2.
        entries: One per good row (the first row wins for a repeated image and landmark).
        problems: One per bad row or column, naming the file and row.
        record: "row" (CSV) or "record" (JSON), for messages.
    """

    name: str
    ndim: int
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    record: str = "row"

    def images(self) -> list[str]:
        """Every image named by a good row, sorted."""
        return sorted({entry.image for entry in self.entries})

    def landmark_names(self) -> tuple[str, ...]:
        """Every landmark name, in the order of first appearance."""
        return tuple(dict.fromkeys(entry.landmark for entry in self.entries))

    def entries_of(self, image: str) -> list[Entry]:
        """The good rows of one image, in file order."""
        return [entry for entry in self.entries if entry.image == image]


def read_table(path: Path, name: str) -> Table:
    """Parse the landmarks table at ``path`` (CSV, or JSON for a ``.json`` suffix).

    Bad rows become ``Table.problems`` and are left out; a file that cannot be read at all
    raises.

    Raises:
        DataError: if the file is missing, unreadable, or lacks a required column.
    """
    if not path.is_file():
        raise DataError(
            f"Landmarks file '{name}' does not exist in the data folder; write one CSV with "
            f"columns {','.join(REQUIRED_COLUMNS)}[,z] (one row per image and landmark), or "
            "name yours with --data-option landmarks_file=FILE."
        )
    json_file = path.suffix.lower() == ".json"
    try:
        text = path.read_text(encoding="utf-8-sig")
        header, records = _json_records(text, name) if json_file else _csv_records(text)
    except (OSError, UnicodeDecodeError, csv.Error, json.JSONDecodeError) as exc:
        raise DataError(
            f"Landmarks file '{name}' cannot be read ({type(exc).__name__}: {exc}); save it "
            f"as UTF-8 {'JSON' if json_file else 'CSV'} and try again."
        ) from exc
    columns = _require_columns(header, name, json_file)
    table = Table(
        name=name, ndim=3 if "z" in columns else 2, record="record" if json_file else "row"
    )
    unknown = [c for c in columns if c not in KNOWN_COLUMNS]
    for column in unknown:
        close = difflib.get_close_matches(column, KNOWN_COLUMNS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        table.problems.append(
            Problem(
                name,
                f"column {column!r} is not one of {', '.join(KNOWN_COLUMNS)}; {hint}rename or "
                "remove it.",
            )
        )
    if table.ndim == 2 and "spacing_z" in columns:
        table.problems.append(
            Problem(name, "has a spacing_z column but no z column; add z or drop spacing_z.")
        )
    seen: dict[tuple[str, str], int] = {}
    for number, record in records:
        entry = _entry(number, record, table, columns)
        if entry is None:
            continue
        key = (entry.image, entry.landmark)
        if key in seen:
            table.problems.append(
                Problem(
                    name,
                    f"{table.record} {number} repeats image {entry.image!r} landmark "
                    f"{entry.landmark!r} of {table.record} {seen[key]}; keep one of the two.",
                )
            )
            continue
        seen[key] = number
        table.entries.append(entry)
    return table


Records = list[tuple[int, dict[str, str]]]
# The key under which a CSV row's cells beyond the header are kept (not a column name).
_EXTRA = "\0extra"


def _csv_records(text: str) -> tuple[list[str], Records]:
    """(header, [(row number, {column: cell})]) of a CSV text; blank rows skipped."""
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return [], []
    header = [cell.strip().lower() for cell in rows[0]]
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        record = {key: (row[k].strip() if k < len(row) else "") for k, key in enumerate(header)}
        if len(row) > len(header):
            record[_EXTRA] = ",".join(row[len(header) :])
        records.append((number, record))
    return header, records


def _json_records(text: str, name: str) -> tuple[list[str], Records]:
    """(every key, [(record number, {key: value as text})]) of a JSON list of objects."""
    data = json.loads(text)
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise DataError(
            f"Landmarks file '{name}' must hold a JSON list of objects like "
            '{"image": "a.png", "landmark": "sella", "x": 10.5, "y": 20}; got '
            f"{type(data).__name__}."
        )
    records = []
    keys: dict[str, str] = {}
    for number, item in enumerate(data, start=1):
        record = {}
        for key, value in item.items():
            text_value = "" if value is None else str(value)
            record[str(key).strip().lower()] = text_value.strip()
            keys[str(key).strip().lower()] = ""
        records.append((number, record))
    return list(keys), records


def _require_columns(header: list[str], name: str, json_file: bool) -> list[str]:
    """The table's columns, or a DataError naming the required ones that are missing."""
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        what = "keys" if json_file else "header columns"
        raise DataError(
            f"Landmarks file '{name}' lacks the {what} {', '.join(missing)} (found "
            f"{', '.join(header) or 'none'}); it needs {','.join(REQUIRED_COLUMNS)}[,z] with "
            "one row per image and landmark."
        )
    return header


def _entry(number: int, record: dict[str, str], table: Table, columns: list[str]) -> Entry | None:
    """One record as an Entry, or None after adding a problem naming the row."""
    where = f"{table.record} {number}"

    def bad(text: str) -> None:
        table.problems.append(Problem(table.name, f"{where}: {text}"))

    if _EXTRA in record:
        bad(
            f"has more cells than the header ({record[_EXTRA]!r} left over); quote cells "
            "that contain commas."
        )
        return None
    image = record.get("image", "").replace("\\", "/").strip("/")
    landmark = record.get("landmark", "")
    if not image or not landmark:
        bad("has an empty image or landmark cell; every row names one image and one landmark.")
        return None
    axes = COORDINATE_COLUMNS[: table.ndim]
    cells = [record.get(axis, "") for axis in axes]
    try:
        xyz = tuple(float(cell) if cell else math.nan for cell in cells)
    except ValueError:
        shown = ", ".join(f"{a}={c!r}" for a, c in zip(axes, cells, strict=True))
        bad(
            f"image {image!r} landmark {landmark!r} has a coordinate that is not a number "
            f"({shown}); write numbers, or leave every coordinate empty for a missing landmark."
        )
        return None
    if any(cells) and not all(cells):
        bad(
            f"image {image!r} landmark {landmark!r} gives only some of {', '.join(axes)}; "
            "give them all, or leave them all empty for a missing landmark."
        )
        return None
    spacing_cells = [record.get(c, "") for c in SPACING_COLUMNS[: table.ndim]]
    spacing: tuple[float, ...] | None = None
    if any(spacing_cells):
        try:
            spacing = tuple(float(cell) for cell in spacing_cells)
        except ValueError:
            spacing = None
        if spacing is None or not all(math.isfinite(s) and s > 0 for s in spacing):
            bad(
                f"image {image!r} has spacing {', '.join(spacing_cells)}; give "
                f"{', '.join(SPACING_COLUMNS[: table.ndim])} as positive mm per pixel, or leave "
                "them all empty."
            )
            return None
    return Entry(number, image, landmark, xyz, spacing)


def parse_spacing_option(text: str | None, ndim: int) -> tuple[float, ...] | None:
    """The ``spacing`` option ("0.1" for every axis, or "0.1,0.2[,0.3]" along x, y[, z]).

    Raises:
        UsageError: for anything but one or ``ndim`` positive numbers.
    """
    if text is None or not str(text).strip():
        return None
    try:
        values = tuple(float(v) for v in str(text).replace(" ", "").split(","))
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * ndim
    if len(values) != ndim or not all(math.isfinite(v) and v > 0 for v in values):
        raise UsageError(
            f"folder spacing {text!r} must be one positive number (mm per pixel on every "
            f"axis) or {ndim} along {', '.join(COORDINATE_COLUMNS[:ndim])}; e.g. "
            f"--data-option spacing=0.1 or spacing={','.join(['0.1'] * ndim)}."
        )
    return values


def parse_names_option(text: str | None) -> tuple[str, ...] | None:
    """The ``landmarks`` option: declared names in order ("sella,nasion"), or None."""
    if text is None or not str(text).strip():
        return None
    names = tuple(n.strip() for n in str(text).split(",") if n.strip())
    if len(set(names)) != len(names):
        raise UsageError(f"folder landmarks {text!r} repeats a name; list each name once.")
    return names


def read_split(path: Path, name: str) -> tuple[dict[str, list[str]], list[Problem]]:
    """The split file as {part: [images]} and the problems of its rows.

    Raises:
        DataError: if the file cannot be read or lacks the columns image, part.
    """
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(
            f"Split file '{name}' cannot be read ({type(exc).__name__}: {exc}); save it as "
            "UTF-8 CSV with columns image,part."
        ) from exc
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if "image" not in header or "part" not in header:
        raise DataError(
            f"Split file '{name}' needs the header columns image,part (found "
            f"{', '.join(header) or 'none'}); part is train or a test set's name, e.g. test."
        )
    at_image, at_part = header.index("image"), header.index("part")
    parts: dict[str, list[str]] = {}
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [row[k].strip() if k < len(row) else "" for k in (at_image, at_part)]
        image, part = cells[0].replace("\\", "/").strip("/"), cells[1]
        if not image or not part:
            problems.append(Problem(name, f"row {number}: needs an image and a part."))
            continue
        if image in seen:
            problems.append(
                Problem(
                    name,
                    f"row {number}: image {image!r} is already in row {seen[image]}; "
                    "an image belongs to one part.",
                )
            )
            continue
        seen[image] = number
        parts.setdefault(part, []).append(image)
    if parts and ("train" not in parts or len(parts) < 2):
        problems.append(
            Problem(
                name,
                f"has the parts {', '.join(sorted(parts))}; it needs 'train' and at "
                "least one test part (e.g. 'test').",
            )
        )
    return parts, problems
