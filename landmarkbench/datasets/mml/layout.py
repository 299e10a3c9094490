"""The MML release on disk: the ``mmld_dataset`` layout and the readers of its files.

Paths and parsers only (no dataset class), shared by the adapter and the tree checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from landmarkbench.errors import DataError, UsageError

ROOT_NAME = "mmld_dataset"
SPLITS = ("train", "val", "test")
VOLUME_SUFFIXES = ("_volume.nrrd", "_volume.npy")
LABEL_SUFFIX = "_label.npy"
SPACING_SUFFIX = "_spacing.npy"
NUM_LANDMARKS = 14
SUBSETS = ("all", "full", "mini")
SPACING_SOURCES = ("file", "header")


def dataset_root(data_dir: str | Path) -> Path | None:
    """The ``mmld_dataset`` folder: ``data_dir`` itself or its child; None if neither."""
    data_dir = Path(data_dir)
    for candidate in (data_dir / ROOT_NAME, data_dir):
        if any((candidate / split).is_dir() for split in SPLITS):
            return candidate
    return None


def parse_axes(axes: str, option: str = "label_axes") -> tuple[int, int, int]:
    """Array axis of each label column: "ijk" -> (0, 1, 2), "kji" -> (2, 1, 0).

    Raises:
        UsageError: if ``axes`` is not a permutation of "ijk".
    """
    if not isinstance(axes, str) or sorted(axes) != ["i", "j", "k"]:
        raise UsageError(
            f"mml {option} must be a permutation of 'ijk' naming the volume array axis of "
            f"each label column, got {axes!r}; use 'ijk' (identity) or e.g. 'kji' (reversed)."
        )
    return tuple("ijk".index(letter) for letter in axes)  # type: ignore[return-value]


def to_array_order(values: np.ndarray, axes: tuple[int, int, int]) -> np.ndarray:
    """Reorder the last dimension from label-column order to array-axis order."""
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    for column, axis in enumerate(axes):
        out[..., axis] = values[..., column]
    return out


def read_label(path: Path, axes: tuple[int, int, int]) -> np.ndarray:
    """(14, 3) landmarks in array-axis order; rows with a non-positive coordinate are NaN.

    Raises:
        DataError: if the file is unreadable or not 14 x 3.
    """
    try:
        label = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DataError(
            f"MML label file '{path}' is not a readable .npy array ({error}); re-extract it."
        ) from error
    if label.shape != (NUM_LANDMARKS, 3):
        raise DataError(
            f"MML label file '{path}' has shape {label.shape}; MML labels are "
            f"{NUM_LANDMARKS} x 3 voxel coordinates. Re-extract the dataset."
        )
    finite = np.isfinite(np.asarray(label, dtype=np.float64)).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise DataError(
            f"MML label file '{path}' row {row + 1} (L{row + 1}) holds "
            f"{np.asarray(label[row]).tolist()}; coordinates must be finite (MML marks a missing "
            "landmark with non-positive ones). Re-extract the dataset."
        )
    landmarks = to_array_order(label, axes)
    # The dataset marks a missing landmark with negative or zero coordinates.
    missing = ~np.all(landmarks > 0, axis=1)
    landmarks[missing] = np.nan
    return landmarks


def read_spacing_file(path: Path, axes: tuple[int, int, int]) -> np.ndarray:
    """(3,) spacing in mm in array-axis order from ``<case>_spacing.npy``.

    Raises:
        DataError: if the file is unreadable, not 3 values or not all positive.
    """
    try:
        spacing = np.load(path, allow_pickle=False).astype(np.float64).reshape(-1)
    except (OSError, ValueError, TypeError) as error:
        raise DataError(
            f"MML spacing file '{path}' is not a readable .npy array ({error}); re-extract it."
        ) from error
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing) & (spacing > 0)):
        raise DataError(
            f"MML spacing file '{path}' holds {spacing.tolist()}; it must hold 3 positive "
            "voxel sizes in mm. Re-extract the dataset or use spacing_source='header'."
        )
    return to_array_order(spacing, axes)


def read_header_spacing(path: Path) -> np.ndarray:
    """(3,) voxel size in mm per array axis from an NRRD header (no voxel data is read).

    Raises:
        DataError: if the volume has no header (.npy) or its header gives no spacing.
    """
    if path.suffix.lower() not in (".nrrd", ".nhdr"):
        raise DataError(
            f"Volume '{path}' has no header to take the spacing from; MML .npy volumes need "
            "spacing_source='file'."
        )
    import nrrd

    try:
        header = nrrd.read_header(str(path))
        # As landmarkbench.imageio: the norm of each 'space directions' row, else 'spacings'.
        if header.get("space directions") is not None:
            spacing = np.linalg.norm(np.asarray(header["space directions"], float), axis=1)
        else:
            spacing = np.asarray(header.get("spacings", [np.nan] * 3), dtype=np.float64)
    except (OSError, TypeError, ValueError, nrrd.NRRDError) as error:
        raise DataError(
            f"NRRD header of '{path}' is unreadable ({error}); re-extract it."
        ) from error
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing) & (spacing > 0)):
        raise DataError(
            f"NRRD header of '{path}' gives no voxel size for 3 axes (got {spacing.tolist()}); "
            "use spacing_source='file'."
        )
    return spacing


def volume_path(split_dir: Path, stem: str) -> Path | None:
    """The case's volume, NRRD preferred over NPY; None if there is neither."""
    for suffix in VOLUME_SUFFIXES:
        path = split_dir / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None
