"""Checking an OAI pelvis data folder, and writing miniature ones in the same layout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.datasets.oai_pelvis import layout as files
from landmarkbench.datasets.real_data import draw_landmark_dots, missing_file_problems
from landmarkbench.errors import DataError, UsageError

_ADAPTER_OPTIONS = {"coordinate_scale", "image_dir", "ground_truth", "data_dir"}
# Relative tolerance between the table's spacing and a DICOM header's PixelSpacing.
_SPACING_RTOL = 1e-3


# ----------------------------------------------------------------------- validation


def validate_tree(
    data_dir: Path,
    checksum_file: str | Path | None = None,
    coordinate_scale: float = 4.0,
    image_dir: str = "images",
    **options: Any,
) -> list:
    """Every problem of an OAI pelvis data folder; reads only, never raises for data problems.

    Checks that both tables exist and parse, that every coordinate row has an image that
    decodes and a positive spacing row, that the scaled landmarks lie inside the image, that
    a DICOM's PixelSpacing agrees with the table (row = image_resolution2, col =
    image_resolution1), and the checksums when known.

    Args:
        data_dir: The folder with the tables and the image folder.
        checksum_file: A ``relative/path sha256`` file; default: the bundled
            ``datasets_manifest/oai_pelvis.sha256`` when it exists; "" skips checksums.
        coordinate_scale: As the adapter's option.
        image_dir: As the adapter's option.
        **options: Other adapter options (ground_truth) are accepted and ignored.

    Returns:
        A list of ``validation.Problem`` (paths relative to ``data_dir``).

    Raises:
        UsageError: for an unknown option, a bad scale or a data_dir that is not a folder.
    """
    from landmarkbench.datasets.real_data import require_data_dir

    unknown = sorted(set(options) - _ADAPTER_OPTIONS)
    if unknown:
        raise UsageError(
            f"validate_tree of oai_pelvis got unknown option {unknown[0]!r}; it takes "
            "checksum_file, coordinate_scale, image_dir and ground_truth."
        )
    data_dir = require_data_dir(data_dir, "oai_pelvis")
    scale = files.check_coordinate_scale(coordinate_scale)
    problems: list = []
    tables = _read_tables(data_dir, problems)
    if tables is not None:
        rows, spacings, spacing_display = tables
        image_root = data_dir / str(image_dir or "images")
        missing = []
        table_rows = _table_rows(rows)
        for case_id, row in rows.items():
            path = files.find_image(image_root, row, case_id)
            if path is None:
                missing.append(_relative(image_root / row.listed_name, data_dir))
                continue
            spacing = spacings.get(case_id)
            text = files.spacing_problem(spacing, case_id, spacing_display)
            if text:
                problems.append(_problem(spacing_display, text))
                spacing = None
            problems += _image_problems(
                path, data_dir, row.stored_xy[:, ::-1] * scale, spacing, table_rows[case_id]
            )
        problems += missing_file_problems(
            _relative(image_root, data_dir), missing, len(rows), "image", "the image download"
        )
    problems += _checksum_problems(data_dir, checksum_file)
    return problems


def _problem(path: str, message: str) -> Any:
    from landmarkbench.acquire.validation import Problem

    return Problem(path, message)


def _relative(path: Path, data_dir: Path) -> str:
    try:
        return path.relative_to(data_dir).as_posix()
    except ValueError:
        return str(path)


def _read_tables(data_dir: Path, problems: list) -> tuple | None:
    """(coordinate rows, spacing rows, spacing table name), or None after a problem."""
    parsed = []
    for stem, parse in (
        (files.COORDINATES_TABLE, files.coordinate_rows),
        (files.SPACING_TABLE, files.spacing_rows),
    ):
        try:
            path = files.find_table(data_dir, stem)
            parsed.append((parse(files.read_table(path), path.name), path.name))
        except DataError as exc:
            problems.append(_problem(f"{stem}.xlsx", str(exc)))
    if len(parsed) < 2:
        return None
    return parsed[0][0], parsed[1][0], parsed[1][1]


def _table_rows(rows: dict) -> dict[str, int]:
    """The table row number of each case (row 1 is the header)."""
    return {case_id: number for number, case_id in enumerate(rows, start=2)}


def landmarks_problem(
    landmarks_rc: np.ndarray, shape: tuple[int, ...], table_row: int
) -> str | None:
    """A sentence when a scaled landmark is not finite (NaN marks a missing one) or lies
    outside the image (``validation.landmark_problem``, the rule of validate and run)."""
    from landmarkbench.acquire.validation import landmark_problem

    return landmark_problem(
        landmarks_rc,
        shape,
        "check coordinate_scale, the coordinates table or the image's grid.",
        line_of=lambda k: (
            f"landmark L{k + 1} of {files.COORDINATES_TABLE} row {table_row} "
            "(after coordinate_scale)"
        ),
    )


def input_problems(dataset: Any) -> list:
    """What ``run`` must refuse before training: per case the image header, the spacing
    row, and the scaled landmarks against the image (header only: fast)."""
    from landmarkbench.imageio import read_image_shape

    problems: list = []
    table_rows = _table_rows(dataset._coordinate_rows())
    for case_id, path in sorted(dataset._image_paths().items()):
        relative = _relative(path, dataset.data_dir)
        try:
            shape = read_image_shape(path)
            dataset.spacing_of(case_id)
        except DataError as exc:
            problems.append(_problem(relative, str(exc)))
            continue
        text = landmarks_problem(dataset.landmarks_of(case_id), shape, table_rows[case_id])
        if text:
            problems.append(_problem(relative, text))
    return problems


def _image_problems(
    path: Path,
    data_dir: Path,
    landmarks_rc: np.ndarray,
    spacing: np.ndarray | None,
    table_row: int,
) -> list:
    """Decoding, landmarks inside the image, and DICOM header spacing vs the table."""
    from landmarkbench.imageio import read_image

    relative = _relative(path, data_dir)
    try:
        loaded = read_image(path)
    except DataError as exc:
        return [_problem(relative, str(exc))]
    problems = []
    text = landmarks_problem(landmarks_rc, loaded.array.shape[:2], table_row)
    if text:
        problems.append(_problem(relative, text))
    header = loaded.spacing
    if spacing is not None and header is not None:
        text = _spacing_mismatch(np.asarray(header, dtype=float), spacing)
        if text:
            problems.append(_problem(relative, text))
    return problems


def _spacing_mismatch(header: np.ndarray, table: np.ndarray) -> str | None:
    if np.allclose(header, table, rtol=_SPACING_RTOL):
        return None
    hint = ""
    if np.allclose(header, table[::-1], rtol=_SPACING_RTOL):
        hint = " (the table's two resolution columns look swapped)"
    return (
        f"DICOM PixelSpacing (row, col) {header.tolist()} mm differs from the table's "
        f"(image_resolution2, image_resolution1) {table.tolist()} mm{hint}; errors in mm use "
        "the table, so correct whichever is wrong"
    )


def _checksum_problems(data_dir: Path, checksum_file: str | Path | None) -> list:
    from landmarkbench.acquire.manifest import load_checksums, read_checksums
    from landmarkbench.acquire.validation import check_checksums

    try:
        if checksum_file is None:
            checksums = load_checksums("oai_pelvis")
        elif str(checksum_file) == "":
            checksums = {}
        else:
            checksums = read_checksums(Path(checksum_file))
    except DataError as exc:
        return [_problem(str(checksum_file or "oai_pelvis.sha256"), str(exc))]
    return check_checksums(data_dir, checksums)


# ----------------------------------------------------------------------- fixtures


def write_fixture(
    root: Path,
    n_cases: int = 6,
    fmt: str = "png",
    table_format: str = "xlsx",
    image_shape: Sequence[int] = (256, 208),
    coordinate_scale: float = 4.0,
    seed: int = 0,
) -> Path:
    """Write a miniature OAI pelvis data folder and return ``root``.

    Case ``k`` is ``pelvis_<k>`` with image ``images/pelvis_<k>.<fmt>`` (a bright dot at each
    landmark). The coordinates table lists even cases with the suffix and odd ones without;
    the spacing table does the opposite. Stored coordinates are the (x, y) pixel positions
    divided by ``coordinate_scale`` (exact in binary for powers of two such as 4). The
    spacing differs per image and per axis: col (image_resolution1) = 0.12 + 0.01 k mm, row
    (image_resolution2) = col + 0.03 mm; DICOMs carry the same PixelSpacing (row, col).

    Args:
        root: Folder to write into (created).
        n_cases: Number of images (at least 1).
        fmt: "png" or "dcm".
        table_format: "xlsx" or "csv".
        image_shape: (rows, cols) of every image.
        coordinate_scale: The scale the adapter must apply to recover the pixels.
        seed: Seed of the landmarks and image noise.

    Raises:
        UsageError: for an unknown format or a bad size.
    """

    shape = _check_fixture_args(n_cases, fmt, table_format, image_shape)
    scale = files.check_coordinate_scale(coordinate_scale)
    rng = np.random.default_rng(seed)
    root = Path(root)
    coordinate_records, spacing_records = [], []
    for k in range(int(n_cases)):
        case_id = f"pelvis_{k:03d}"
        landmarks = np.round(
            rng.uniform(0.1, 0.9, (files.NUM_LANDMARKS, 2)) * (np.array(shape) - 1)
        )
        col_mm = round(0.12 + 0.01 * k, 6)
        spacing = (round(col_mm + 0.03, 6), col_mm)
        _write_image(root / "images" / f"{case_id}.{fmt}", shape, landmarks, spacing, rng)
        stored_xy = landmarks[:, ::-1] / scale
        name_with = f"{case_id}.{fmt}"
        coordinate_records.append(
            {"image_name": name_with if k % 2 == 0 else case_id}
            | {
                f"{axis}{i + 1}": stored_xy[i, j]
                for i in range(len(stored_xy))
                for j, axis in enumerate("xy")
            }
        )
        spacing_records.append(
            {
                "image_file": case_id if k % 2 == 0 else name_with,
                files.COL_SPACING_COLUMN: spacing[1],
                files.ROW_SPACING_COLUMN: spacing[0],
            }
        )
    _write_table(root / f"{files.COORDINATES_TABLE}.{table_format}", coordinate_records)
    _write_table(root / f"{files.SPACING_TABLE}.{table_format}", spacing_records)
    return root


def _check_fixture_args(
    n_cases: Any, fmt: str, table_format: str, image_shape: Sequence[int]
) -> tuple[int, int]:
    if fmt not in ("png", "dcm") or table_format not in ("xlsx", "csv"):
        raise UsageError(
            f"oai_pelvis fixture formats must be fmt=png|dcm and table_format=xlsx|csv, got "
            f"fmt={fmt!r}, table_format={table_format!r}; use e.g. fmt=dcm table_format=csv."
        )
    try:
        rows, cols = (int(v) for v in image_shape)
        count = int(n_cases)
    except (TypeError, ValueError):
        rows = cols = count = 0
    if rows < 16 or cols < 16 or count < 1:
        raise UsageError(
            f"oai_pelvis fixture needs n_cases >= 1 and image_shape of two integers >= 16, got "
            f"n_cases={n_cases!r}, image_shape={image_shape!r}; use e.g. n_cases=6 "
            "image_shape=256,208."
        )
    return rows, cols


def _write_image(
    path: Path,
    shape: tuple[int, int],
    landmarks_rc: np.ndarray,
    spacing: tuple[float, float],
    rng: np.random.Generator,
) -> None:
    from landmarkbench.imageio import write_image

    image = draw_landmark_dots(shape, landmarks_rc, rng)
    write_image(path, image, spacing=spacing if path.suffix == ".dcm" else None)


def _write_table(path: Path, records: list[dict[str, Any]]) -> None:
    import pandas as pd

    frame = pd.DataFrame.from_records(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_excel(path, index=False)
