"""Axis conventions of every image format: a bright pixel must be read back where it was put."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.errors import DataError
from landmarkbench.imageio import LoadedImage, read_image, read_image_shape, write_image

SHAPE_2D, PEAK_2D, SPACING_2D = (17, 23), (5, 11), (0.3, 0.7)
SHAPE_3D, PEAK_3D, SPACING_3D = (9, 13, 15), (3, 7, 12), (0.5, 0.8, 1.5)


def bright_pixel(shape: tuple[int, ...], peak: tuple[int, ...], dtype: str) -> np.ndarray:
    """A dim gradient (so transposes cannot hide) with one bright pixel."""
    image = (np.indices(shape).sum(axis=0) % 7 * 10).astype(dtype)
    image[peak] = 250 if dtype == "uint8" else 4000
    return image


def assert_peak(loaded: LoadedImage, shape: tuple[int, ...], peak: tuple[int, ...]) -> None:
    assert loaded.array.dtype == np.float32
    assert loaded.array.shape == shape
    assert np.unravel_index(np.argmax(loaded.array), loaded.array.shape) == peak


# --- written with write_image -------------------------------------------------------------

WRITE_2D = [
    ("a.png", "uint8", {}, None),
    ("a16.png", "uint16", {}, None),
    ("a.bmp", "uint8", {}, None),
    ("rgb.bmp", "uint8", {"rgb": True}, None),
    ("rgb.png", "uint8", {"rgb": True}, None),
    ("a.jpg", "uint8", {}, None),
    ("a.tif", "uint16", {}, None),
    ("a.dcm", "uint16", {}, SPACING_2D),
    ("a8.dcm", "uint8", {}, SPACING_2D),
    ("a.nii.gz", "float32", {}, SPACING_2D),
    ("a.nrrd", "float32", {}, SPACING_2D),
    ("a.npy", "float32", {}, None),
]


@pytest.mark.parametrize(("name", "dtype", "options", "spacing"), WRITE_2D)
def test_write_image_round_trip_2d(
    tmp_path: Path, name: str, dtype: str, options: dict, spacing: tuple | None
) -> None:
    path = tmp_path / name
    image = bright_pixel(SHAPE_2D, PEAK_2D, dtype)
    write_image(path, image, spacing=SPACING_2D, **options)
    loaded = read_image(path)
    assert_peak(loaded, SHAPE_2D, PEAK_2D)
    assert read_image_shape(path) == SHAPE_2D
    assert loaded.spacing == pytest.approx(spacing) if spacing else loaded.spacing is None
    if not name.endswith(".jpg"):  # lossy
        np.testing.assert_array_equal(loaded.array, image.astype(np.float32))


@pytest.mark.parametrize("name", ["v.nii.gz", "v.nii", "v.nrrd", "v.nhdr", "v.npy"])
def test_write_image_round_trip_3d(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    image = bright_pixel(SHAPE_3D, PEAK_3D, "int16")
    write_image(path, image, spacing=SPACING_3D)
    loaded = read_image(path)
    assert_peak(loaded, SHAPE_3D, PEAK_3D)
    assert read_image_shape(path) == SHAPE_3D
    if name.endswith(".npy"):
        assert loaded.spacing is None
    else:
        assert loaded.spacing == pytest.approx(SPACING_3D)
    np.testing.assert_array_equal(loaded.array, image.astype(np.float32))


def test_spacing_none_round_trips(tmp_path: Path) -> None:
    image = bright_pixel(SHAPE_3D, PEAK_3D, "float32")
    write_image(tmp_path / "v.nrrd", image)
    write_image(tmp_path / "v.nii.gz", image)
    assert read_image(tmp_path / "v.nrrd").spacing is None
    assert read_image(tmp_path / "v.nii.gz").spacing == (1.0, 1.0, 1.0)


# --- written independently with the format's own library -----------------------------------


@pytest.mark.parametrize(
    ("name", "mode"),
    [("l.png", "L"), ("l16.png", "I;16"), ("rgb.bmp", "RGB"), ("l.bmp", "L"), ("rgba.png", "RGBA")],
)
def test_pil_written_images(tmp_path: Path, name: str, mode: str) -> None:
    from PIL import Image

    grey = bright_pixel(SHAPE_2D, PEAK_2D, "uint16" if mode == "I;16" else "uint8")
    if mode in ("RGB", "RGBA"):
        channels = [grey] * 3 + ([np.full_like(grey, 255)] if mode == "RGBA" else [])
        picture = Image.fromarray(np.stack(channels, axis=-1), mode)
    else:
        picture = Image.fromarray(grey)
    assert picture.size == (SHAPE_2D[1], SHAPE_2D[0])  # PIL's size is (width, height)
    picture.save(tmp_path / name)
    loaded = read_image(tmp_path / name)
    assert_peak(loaded, SHAPE_2D, PEAK_2D)
    np.testing.assert_array_equal(loaded.array, grey.astype(np.float32))
    assert read_image_shape(tmp_path / name) == SHAPE_2D


def test_colour_image_becomes_luminance(tmp_path: Path) -> None:
    from PIL import Image

    rgb = np.zeros((*SHAPE_2D, 3), np.uint8)
    rgb[PEAK_2D] = (200, 100, 50)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    expected = 0.299 * 200 + 0.587 * 100 + 0.114 * 50
    for name in ("c.png", "p.png"):
        loaded = read_image(tmp_path / name)
        assert_peak(loaded, SHAPE_2D, PEAK_2D)
        assert loaded.array[PEAK_2D] == pytest.approx(expected, abs=2.0)


def pydicom_file(path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2") -> None:
    """A DICOM file built with pydicom alone (no landmarkbench code)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelSpacing = [str(s) for s in SPACING_2D]  # (row spacing, col spacing)
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize("name", ["x.dcm", "no_suffix"])
def test_pydicom_written_file(tmp_path: Path, name: str) -> None:
    grey = bright_pixel(SHAPE_2D, PEAK_2D, "uint16")
    pydicom_file(tmp_path / name, grey)
    loaded = read_image(tmp_path / name)
    assert loaded.format == "dicom"
    assert_peak(loaded, SHAPE_2D, PEAK_2D)
    assert loaded.spacing == pytest.approx(SPACING_2D)
    assert read_image_shape(tmp_path / name) == SHAPE_2D


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    grey = np.full(SHAPE_2D, 4000, np.uint16)
    grey[PEAK_2D] = 10  # darkest stored value shows brightest under MONOCHROME1
    pydicom_file(tmp_path / "m1.dcm", grey, photometric="MONOCHROME1")
    assert_peak(read_image(tmp_path / "m1.dcm"), SHAPE_2D, PEAK_2D)


def test_nibabel_written_volume(tmp_path: Path) -> None:
    import nibabel

    volume = bright_pixel(SHAPE_3D, PEAK_3D, "float32")
    nibabel.save(nibabel.Nifti1Image(volume, np.diag([*SPACING_3D, 1.0])), tmp_path / "v.nii.gz")
    loaded = read_image(tmp_path / "v.nii.gz")
    assert_peak(loaded, SHAPE_3D, PEAK_3D)
    assert loaded.spacing == pytest.approx(SPACING_3D)
    assert read_image_shape(tmp_path / "v.nii.gz") == SHAPE_3D


@pytest.mark.parametrize("field", ["space directions", "spacings"])
def test_pynrrd_written_volume(tmp_path: Path, field: str) -> None:
    import nrrd

    volume = bright_pixel(SHAPE_3D, PEAK_3D, "float32")
    header = (
        {"space": "left-posterior-superior", "space directions": np.diag(SPACING_3D)}
        if field == "space directions"
        else {"spacings": list(SPACING_3D)}
    )
    nrrd.write(str(tmp_path / "v.nrrd"), volume, header)  # pynrrd's default index_order="F"
    loaded = read_image(tmp_path / "v.nrrd")
    assert_peak(loaded, SHAPE_3D, PEAK_3D)
    assert loaded.spacing == pytest.approx(SPACING_3D)
    assert read_image_shape(tmp_path / "v.nrrd") == SHAPE_3D


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t.bmp", "t.png"])
def test_truncated_image_raises_data_error(tmp_path: Path, name: str) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / name
    write_image(path, rng.integers(0, 255, (200, 300), dtype=np.uint8), rgb=True)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=name):
        read_image(path)


@pytest.mark.parametrize("name", ["r.png", "r.bmp", "r.dcm", "r.nii.gz", "r.nrrd", "r.npy"])
def test_random_bytes_raise_data_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(DataError, match=name):
        read_image(path)
    with pytest.raises(DataError, match=name):
        read_image_shape(path)


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "x.gif").write_bytes(b"GIF89a")
    with pytest.raises(DataError, match="unsupported format"):
        read_image(tmp_path / "x.gif")


def test_write_image_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one positive value per array axis"):
        write_image(tmp_path / "a.nii.gz", np.zeros(SHAPE_3D), spacing=(1.0, 1.0))
    with pytest.raises(ValueError, match="BMP images take uint8"):
        write_image(tmp_path / "a.bmp", np.full(SHAPE_2D, 1000, np.uint16))


def test_import_is_cheap() -> None:
    code = (
        "import sys, landmarkbench.imageio; "
        "print(sorted(m for m in ('torch', 'monai', 'pydicom', 'nibabel', 'nrrd', 'PIL') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
