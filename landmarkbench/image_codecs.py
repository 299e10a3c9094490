"""Per-format decoding and encoding behind ``imageio`` (which states the axis conventions
every function here follows): PIL formats (PNG, BMP, JPEG, TIFF) through MONAI's PILReader,
DICOM through MONAI's PydicomReader, NIfTI through MONAI's NibabelReader, NRRD through
MONAI's NrrdReader, and NPY. ``READERS``, ``SHAPE_READERS`` and ``WRITERS`` map format names
to them; heavy libraries are imported inside the functions.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from landmarkbench.errors import DataError

PIL_SUFFIXES = {
    ".png": "png",
    ".bmp": "bmp",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
}
OTHER_SUFFIXES = {
    ".dcm": "dicom",
    ".dicom": "dicom",
    ".nii": "nifti",
    ".nii.gz": "nifti",
    ".nrrd": "nrrd",
    ".nhdr": "nrrd",
    ".npy": "npy",
}
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_PIL_MODES_TO_RGB = {"P", "PA", "CMYK", "YCbCr", "LAB", "HSV"}


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


def read_pil(path: Path) -> np.ndarray:
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


def write_pil(path: Path, fmt: str, array: np.ndarray, rgb: bool) -> None:
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


READERS = {"dicom": _read_dicom, "nifti": _read_nifti, "nrrd": _read_nrrd, "npy": _read_npy}
SHAPE_READERS = {
    **dict.fromkeys(PIL_SUFFIXES.values(), _pil_shape),
    "dicom": _dicom_shape,
    "nifti": _nifti_shape,
    "nrrd": _nrrd_shape,
    "npy": _npy_shape,
}
WRITERS = {"dicom": _write_dicom, "nifti": _write_nifti, "nrrd": _write_nrrd, "npy": _write_npy}
