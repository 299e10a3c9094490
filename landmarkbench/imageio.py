"""Reading and writing images: the one place where image axis conventions live.

Every reader returns a :class:`LoadedImage` whose array is float32, single channel, with the
axes below; ``write_image`` is the exact inverse, so a pixel written at an index is read back
at the same index. MONAI's readers do the decoding; what they return raw is converted here.

2D formats (row, col) exactly as a viewer shows them: row 0 is the top row, col 0 the left.

- PNG, BMP, JPEG, TIFF (``monai.data.PILReader``): MONAI's default ``reverse_indexing=True``
  returns (W, H) = (col, row); we read with ``reverse_indexing=False`` to get PIL's (H, W).
  Palette and CMYK/YCbCr images are converted to RGB first. RGB/RGBA images whose three
  colour channels are identical (e.g. the 24-bit ISBI 2015 BMPs) use the first channel; other
  colour images become luminance ``0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601, as PIL's
  ``convert("L")`` but without rounding). Alpha is ignored. EXIF orientation is NOT applied
  (annotations refer to the stored pixel grid). Spacing is None (these headers hold none
  that datasets fill in reliably); ``write_image`` ignores ``spacing`` for them.
- DICOM (``monai.data.PydicomReader``): MONAI's default ``swap_ij=True`` returns
  (Columns, Rows); we read with ``swap_ij=False`` to get pydicom's (Rows, Columns). MONAI
  applies RescaleSlope/RescaleIntercept. MONOCHROME1 images are inverted
  (``min + max - value``) so bright means dense as in a viewer. Spacing is PixelSpacing
  (0028,0030) = (row spacing, col spacing), else ImagerPixelSpacing (0018,1164), else None
  (MONAI's own ``spacing`` metadata is the identity's 1.0 when the orientation tags are
  missing, so it is not used). Multi-frame files are not supported.

3D (and 2D) voxel formats: the array axes are the file's voxel index axes in the order the
format defines them; nothing is reoriented, flipped or transposed.

- NIfTI ``.nii``/``.nii.gz`` (``monai.data.NibabelReader``, ``as_closest_canonical=False``):
  axes (i, j, k) of the affine, exactly as MONAI and nibabel return them; spacing is the
  header zooms (after MONAI's ``correct_nifti_header_if_necessary``). Singleton axes beyond
  the third are dropped. ``write_image`` writes ``affine = diag(spacing, 1)`` (spacing 1 when
  None, so a NIfTI file always reads back with a spacing).
- NRRD ``.nrrd``/``.nhdr`` (``monai.data.NrrdReader.read``, i.e. pynrrd with its default
  ``index_order='F'``): ``arr[i, j, k]`` with i the fastest axis on disk, the axis order of
  the header's ``sizes``. Spacing is the norm of each ``space directions`` row, else
  ``spacings``, else None. MONAI's ``get_data`` is not used: it needs ``space origin``.
- NPY ``.npy`` (``np.load(mmap_mode="r")``, then copied): the array's axes as stored; spacing
  None.

Every returned array is an ordinary, writable, in-memory float32 array. Unreadable, truncated
or unsupported files raise :class:`~landmarkbench.errors.DataError`. Heavy libraries are
imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmarkbench.errors import DataError
from landmarkbench.image_codecs import (
    OTHER_SUFFIXES,
    PIL_SUFFIXES,
    READERS,
    SHAPE_READERS,
    WRITERS,
    read_pil,
    write_pil,
)

_SUPPORTED = "PNG, BMP, JPEG, TIFF, DICOM (.dcm), NIfTI (.nii/.nii.gz), NRRD (.nrrd/.nhdr), NPY"


@dataclass(frozen=True)
class LoadedImage:
    """An image as landmarkbench sees it.

    Attributes:
        array: float32, one channel, (row, col) in 2D or the file's voxel index axes in 3D.
        spacing: mm per array axis from the file header, or None when the format has none.
        format: One of ``png``, ``bmp``, ``jpeg``, ``tiff``, ``dicom``, ``nifti``, ``nrrd``,
            ``npy``.
    """

    array: np.ndarray
    spacing: tuple[float, ...] | None
    format: str


def image_format(path: str | Path) -> str:
    """The format name of an image file, from its suffix (or the DICOM magic bytes).

    Raises:
        DataError: If the format is not supported.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".nii.gz"):
        return "nifti"
    suffix = path.suffix.lower()
    found = PIL_SUFFIXES.get(suffix) or OTHER_SUFFIXES.get(suffix)
    if found:
        return found
    if _has_dicom_magic(path):
        return "dicom"
    raise DataError(
        f"Image file '{path}' has an unsupported format (suffix {suffix or 'none'!r}); "
        f"convert it to one of {_SUPPORTED}."
    )


def read_image(path: str | Path) -> LoadedImage:
    """Read an image into landmarkbench's axis convention (see the module docstring).

    Args:
        path: The image file.

    Returns:
        The float32 single-channel array with its header spacing and format name.

    Raises:
        DataError: If the file is missing, unsupported, truncated or cannot be decoded.
    """
    path = _existing(path)
    fmt = image_format(path)
    with _decoding(path, fmt):
        if fmt in PIL_SUFFIXES.values():
            array, spacing = read_pil(path), None
        else:
            array, spacing = READERS[fmt](path)
    if array.ndim not in (2, 3):
        raise DataError(
            f"Image '{path}' has {array.ndim} axes (shape {array.shape}); landmarkbench "
            "reads 2D or 3D single-channel images, so export one 2D or 3D image per file."
        )
    return LoadedImage(np.ascontiguousarray(array, dtype=np.float32), spacing, fmt)


def read_image_shape(path: str | Path) -> tuple[int, ...]:
    """The spatial shape ``read_image`` would return, reading only the header where cheap.

    Args:
        path: The image file.

    Returns:
        (rows, cols) in 2D or the voxel index axes' sizes in 3D.

    Raises:
        DataError: If the file is missing, unsupported or its header cannot be read.
    """
    path = _existing(path)
    fmt = image_format(path)
    with _decoding(path, fmt):
        shape = SHAPE_READERS[fmt](path)
    return tuple(int(s) for s in shape)


def write_image(
    path: str | Path,
    array: np.ndarray,
    spacing: Sequence[float] | None = None,
    *,
    rgb: bool = False,
) -> None:
    """Write an image so that ``read_image`` returns ``array`` at the same indices.

    PNG takes uint8 or uint16, BMP and JPEG uint8 (JPEG is lossy), TIFF uint8, uint16 or
    float32; integer-valued arrays of other dtypes are narrowed when they fit. DICOM writes a
    single-frame MONOCHROME2 Secondary Capture file (uint8, uint16 or int16) with PixelSpacing.
    NIfTI, NRRD and NPY take any numeric 2D or 3D array. ``spacing`` is ignored by the
    formats without one (PNG, BMP, JPEG, TIFF, NPY).

    Args:
        path: Destination; the suffix chooses the format. Parent folders are created.
        array: 2D (row, col) or 3D (voxel index axes) array.
        spacing: mm per array axis.
        rgb: PNG/BMP/JPEG/TIFF only: write three identical channels (e.g. a 24-bit BMP).

    Raises:
        ValueError: If the array, its dtype or the spacing does not suit the format.
        DataError: If the suffix names an unsupported format.
    """
    path = Path(path)
    fmt = image_format(path)
    array = np.asarray(array)
    if spacing is not None:
        spacing = tuple(float(s) for s in spacing)
        if len(spacing) != array.ndim or min(spacing) <= 0:
            raise ValueError(
                f"Spacing must hold one positive value per array axis; got {spacing} for an "
                f"array of shape {array.shape}."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in PIL_SUFFIXES.values():
        write_pil(path, fmt, array, rgb)
    else:
        WRITERS[fmt](path, array, spacing)


# --- shared helpers -----------------------------------------------------------------------


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"Image file '{path}' does not exist; check the dataset root and its layout."
        )
    return path


def _has_dicom_magic(path: Path) -> bool:
    """DICOM Part 10 files hold b"DICM" after a 128-byte preamble."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


@contextlib.contextmanager
def _decoding(path: Path, fmt: str) -> Iterator[None]:
    """Turn any decoder failure into one DataError sentence naming the file."""
    try:
        yield
    except (DataError, MemoryError):
        raise
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".strip().rstrip(".")
        raise DataError(
            f"Cannot read {fmt.upper()} image '{path}' ({reason}); the file is truncated, "
            "corrupt or not what its suffix says, so copy or export it again."
        ) from exc
