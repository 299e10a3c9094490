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
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.errors import DataError

_PIL_SUFFIXES = {
    ".png": "png",
    ".bmp": "bmp",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
}
_OTHER_SUFFIXES = {
    ".dcm": "dicom",
    ".dicom": "dicom",
    ".nii": "nifti",
    ".nii.gz": "nifti",
    ".nrrd": "nrrd",
    ".nhdr": "nrrd",
    ".npy": "npy",
}
_SUPPORTED = "PNG, BMP, JPEG, TIFF, DICOM (.dcm), NIfTI (.nii/.nii.gz), NRRD (.nrrd/.nhdr), NPY"
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_PIL_MODES_TO_RGB = {"P", "PA", "CMYK", "YCbCr", "LAB", "HSV"}


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
    found = _PIL_SUFFIXES.get(suffix) or _OTHER_SUFFIXES.get(suffix)
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
        if fmt in _PIL_SUFFIXES.values():
            array, spacing = _read_pil(path), None
        else:
            array, spacing = _READERS[fmt](path)
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
        shape = _SHAPE_READERS[fmt](path)
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
    if fmt in _PIL_SUFFIXES.values():
        _write_pil(path, fmt, array, rgb)
    else:
        _WRITERS[fmt](path, array, spacing)


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


def _single_channel(pixels: np.ndarray, path: Path) -> np.ndarray:
    """One channel from (H, W) or (H, W, C): identical colours use one, others luminance."""
    if pixels.ndim == 2:
        return pixels
    channels = pixels.shape[-1]
    if pixels.ndim != 3 or channels not in (2, 3, 4):
        raise DataError(
            f"Image '{path}' has pixel array shape {pixels.shape}; expected grey, grey+alpha, "
            "RGB or RGBA, so convert it to a single-channel image."
        )
    if channels == 2:  # grey + alpha
        return pixels[..., 0]
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    if np.array_equal(red, green) and np.array_equal(red, blue):
        return red
    return pixels[..., :3].astype(np.float32) @ _LUMA_WEIGHTS


def _squeeze_beyond_third(array: np.ndarray) -> np.ndarray:
    """Drop trailing singleton axes after the third (e.g. NIfTI time axes of size 1)."""
    while array.ndim > 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return array


# --- PIL formats --------------------------------------------------------------------------


def _pil_converter(image: Any) -> Any:
    """PILReader hook: palette and non-RGB colour modes become RGB (indices are not grey)."""
    return image.convert("RGB") if image.mode in _PIL_MODES_TO_RGB else image


def _read_pil(path: Path) -> np.ndarray:
    from monai.data import PILReader

    reader = PILReader(converter=_pil_converter, reverse_indexing=False)
    image = reader.read(str(path))
    try:
        pixels, _ = reader.get_data(image)
    finally:
        image.close()
    return _single_channel(pixels, path)


def _pil_shape(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
    return height, width


def _write_pil(path: Path, fmt: str, array: np.ndarray, rgb: bool) -> None:
    from PIL import Image

    if array.ndim != 2:
        raise ValueError(
            f"{fmt.upper()} images are 2D (row, col); got shape {array.shape} for '{path}'."
        )
    allowed = {"png": ("uint8", "uint16"), "tiff": ("uint8", "uint16", "float32")}
    pixels = _narrow(array, allowed.get(fmt, ("uint8",)), fmt)
    if rgb:
        if pixels.dtype != np.uint8:
            raise ValueError(f"RGB {fmt.upper()} images must be uint8; got {pixels.dtype}.")
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    options = {"quality": 100, "subsampling": 0} if fmt == "jpeg" else {}
    Image.fromarray(np.ascontiguousarray(pixels)).save(path, **options)


def _narrow(array: np.ndarray, allowed: tuple[str, ...], fmt: str) -> np.ndarray:
    """Return ``array`` in the first allowed dtype that holds its values exactly."""
    if array.dtype.name in allowed:
        return array
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    for name in allowed:
        dtype = np.dtype(name)
        if dtype.kind == "f":
            continue
        info = np.iinfo(dtype)
        finite = np.isfinite(array).all() if array.dtype.kind == "f" else True
        if (
            finite
            and array.size
            and np.array_equal(array, np.round(array))
            and array.min() >= info.min
            and array.max() <= info.max
        ):
            return array.astype(dtype)
    raise ValueError(
        f"{fmt.upper()} images take {', '.join(allowed)} pixels; got {array.dtype} values "
        "that do not fit, so scale and cast the array first."
    )


# --- DICOM --------------------------------------------------------------------------------


def _read_dicom(path: Path) -> tuple[np.ndarray, tuple[float, ...] | None]:
    from monai.data import PydicomReader

    reader = PydicomReader(swap_ij=False)
    dataset = reader.read(str(path))
    _refuse_multiframe(dataset, path)
    with warnings.catch_warnings():
        # Secondary Capture files lack the patient orientation tags MONAI's affine needs.
        warnings.simplefilter("ignore", UserWarning)
        pixels, _ = reader.get_data(dataset)
    pixels = _single_channel(np.asarray(pixels), path).astype(np.float32)
    if str(getattr(dataset, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        pixels = pixels.min() + pixels.max() - pixels
    return pixels, _dicom_spacing(dataset)


def _refuse_multiframe(dataset: Any, path: Path) -> None:
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    if frames > 1:
        raise DataError(
            f"DICOM file '{path}' holds {frames} frames; landmarkbench reads single-frame "
            "DICOM, so export the volume as NIfTI or NRRD."
        )


def _dicom_spacing(dataset: Any) -> tuple[float, ...] | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = getattr(dataset, keyword, None)
        if value is not None and len(value) == 2:
            return (float(value[0]), float(value[1]))
    return None


def _dicom_shape(path: Path) -> tuple[int, int]:
    import pydicom

    dataset = pydicom.dcmread(path, stop_before_pixels=True)
    _refuse_multiframe(dataset, path)
    return int(dataset.Rows), int(dataset.Columns)


def _write_dicom(path: Path, array: np.ndarray, spacing: tuple[float, ...] | None) -> None:
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    if array.ndim != 2:
        raise ValueError(f"DICOM images are written 2D (row, col); got shape {array.shape}.")
    pixels = _narrow(array, ("uint8", "uint16", "int16"), "dicom")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.Rows, ds.Columns = (int(s) for s in pixels.shape)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8 * pixels.dtype.itemsize
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    if spacing is not None:
        ds.PixelSpacing = [f"{s:.10g}" for s in spacing]
    data = np.ascontiguousarray(pixels.astype(pixels.dtype.newbyteorder("<"))).tobytes()
    ds.PixelData = data + b"\0" * (len(data) % 2)  # DICOM values have even length
    if int(pydicom.__version__.split(".")[0]) >= 3:
        ds.save_as(path, enforce_file_format=True)
    else:  # pragma: no cover - pydicom 2.x
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(path, write_like_original=False)


# --- NIfTI, NRRD, NPY ---------------------------------------------------------------------


def _read_nifti(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    from monai.data import NibabelReader

    reader = NibabelReader(as_closest_canonical=False)
    image = reader.read(str(path))
    array, _ = reader.get_data(image)
    array = _squeeze_beyond_third(np.asarray(array))
    zooms = image.header.get_zooms()[: array.ndim]
    return array, tuple(float(z) for z in zooms)


def _nifti_shape(path: Path) -> tuple[int, ...]:
    import nibabel

    shape = tuple(nibabel.load(path).shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def _write_nifti(path: Path, array: np.ndarray, spacing: tuple[float, ...] | None) -> None:
    import nibabel

    _require_2d_or_3d(array, "NIfTI")
    zooms = spacing or (1.0,) * array.ndim
    affine = np.diag([*zooms, *(1.0,) * (4 - array.ndim)])
    nibabel.save(nibabel.Nifti1Image(array, affine), path)


def _read_nrrd(path: Path) -> tuple[np.ndarray, tuple[float, ...] | None]:
    from monai.data import NrrdReader

    image = NrrdReader(index_order="F").read(str(path))
    return np.asarray(image.array), _nrrd_spacing(image.header, path)


def _nrrd_spacing(header: dict[str, Any], path: Path) -> tuple[float, ...] | None:
    if header.get("space directions") is not None:
        directions = np.asarray(header["space directions"], dtype=np.float64)
        spacing = np.linalg.norm(directions, axis=1)
    elif header.get("spacings") is not None:
        spacing = np.asarray(header["spacings"], dtype=np.float64)
    else:
        return None
    if not np.isfinite(spacing).all():
        raise DataError(
            f"NRRD file '{path}' has a non-spatial axis (spacing {spacing.tolist()}); "
            "landmarkbench reads single-channel volumes, so save one component per file."
        )
    return tuple(float(s) for s in spacing)


def _nrrd_shape(path: Path) -> tuple[int, ...]:
    import nrrd

    return tuple(nrrd.read_header(str(path))["sizes"])


def _write_nrrd(path: Path, array: np.ndarray, spacing: tuple[float, ...] | None) -> None:
    import nrrd

    _require_2d_or_3d(array, "NRRD")
    header: dict[str, Any] = {}
    if spacing is not None:
        header["space dimension"] = array.ndim
        header["space directions"] = np.diag(spacing)
        header["space origin"] = np.zeros(array.ndim)
    nrrd.write(
        str(path), array, header, index_order="F", detached_header=path.suffix.lower() == ".nhdr"
    )


def _read_npy(path: Path) -> tuple[np.ndarray, None]:
    return np.array(np.load(path, mmap_mode="r", allow_pickle=False), dtype=np.float32), None


def _npy_shape(path: Path) -> tuple[int, ...]:
    return tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)


def _write_npy(path: Path, array: np.ndarray, spacing: tuple[float, ...] | None) -> None:
    del spacing  # NPY has no header for it
    _require_2d_or_3d(array, "NPY")
    np.save(path, array)


def _require_2d_or_3d(array: np.ndarray, fmt: str) -> None:
    if array.ndim not in (2, 3):
        raise ValueError(f"{fmt} images are written 2D or 3D; got shape {array.shape}.")


_READERS = {"dicom": _read_dicom, "nifti": _read_nifti, "nrrd": _read_nrrd, "npy": _read_npy}
_SHAPE_READERS = {
    **dict.fromkeys(_PIL_SUFFIXES.values(), _pil_shape),
    "dicom": _dicom_shape,
    "nifti": _nifti_shape,
    "nrrd": _nrrd_shape,
    "npy": _npy_shape,
}
_WRITERS = {"dicom": _write_dicom, "nifti": _write_nifti, "nrrd": _write_nrrd, "npy": _write_npy}
