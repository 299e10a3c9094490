"""Tests for landmarkbench.training.geometry: resize-with-pad of images and points, 2D and 3D."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landmarkbench.evaluation.metrics import point_error_mm
from landmarkbench.training.geometry import ResizePad


def _blob(shape: tuple[int, ...], centre: tuple[float, ...], sigma: float) -> torch.Tensor:
    grids = torch.meshgrid(*(torch.arange(n, dtype=torch.float64) for n in shape), indexing="ij")
    sq = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))
    return torch.exp(-0.5 * sq / sigma**2)


def _centre_of_mass(image: torch.Tensor) -> np.ndarray:
    grids = torch.meshgrid(
        *(torch.arange(n, dtype=image.dtype) for n in image.shape), indexing="ij"
    )
    total = image.sum()
    return np.array([float((g * image).sum() / total) for g in grids])


def test_shapes_and_padding_split_extra_pixel_on_high_side():
    rp = ResizePad((100, 45), (64, 64))
    assert rp.scale == pytest.approx(0.64)
    assert rp.resized_shape == (64, 29)  # 45 * 0.64 = 28.8 -> 29
    assert rp.pad_before == (0, 17) and rp.pad_after == (0, 18)
    assert rp.effective_scale == (0.64, 29 / 45)


def test_exact_multiple_has_no_padding():
    rp = ResizePad((50, 100), (100, 200))
    assert (rp.scale, rp.resized_shape, rp.pad_before, rp.pad_after) == (
        2.0,
        (100, 200),
        (0, 0),
        (0, 0),
    )


def test_keep_aspect_false_stretches_each_axis():
    rp = ResizePad((150, 200), (100, 200), keep_aspect=False)
    assert rp.resized_shape == (100, 200) and rp.pad_before == (0, 0)
    assert rp.effective_scale == (100 / 150, 1.0)


def test_reference_pe_check_from_methods_md():
    # Predictions and truths are given on the 100x200 network grid; each image is mapped back
    # to its own original grid with per-axis factors (the check stretches 150x200 to
    # 100x200, so it needs keep_aspect=False), then PE uses the original spacing.
    true = np.array([[[10, 20], [30, 40]], [[50, 60], [70, 80]]], dtype=float)
    pred = np.array([[[10, 20], [30, 42]], [[52, 62], [75, 82]]], dtype=float)
    spacing = np.array([[0.1, 0.2], [0.3, 0.4]])
    originals = [(50, 100), (150, 200)]
    maps = [ResizePad(shape, (100, 200), keep_aspect=False) for shape in originals]
    true_orig = np.stack([m.points_to_original(t) for m, t in zip(maps, true, strict=True)])
    pred_orig = np.stack([m.points_to_original(p) for m, p in zip(maps, pred, strict=True)])
    pe = point_error_mm(pred_orig, true_orig, spacing)
    np.testing.assert_allclose(pe, [[0.0, 0.2], [1.204159, 2.387990]], atol=1e-6)


def test_reference_pe_check_aspect_preserving_differs_for_stretched_image():
    # With aspect preserved, 150x200 -> 100x133 plus padding: both axes scale by about 1.5
    # (the actual ratios 150/100 and 200/133), so the PE differs from the reference numbers.
    rp = ResizePad((150, 200), (100, 200))
    assert rp.resized_shape == (100, 133) and rp.pad_before == (0, 33)
    true = rp.points_to_original(np.array([[50.0, 60.0]]))
    pred = rp.points_to_original(np.array([[52.0, 62.0]]))
    pe = point_error_mm(pred[None], true[None], np.array([0.3, 0.4]))
    assert pe[0, 0] == pytest.approx(np.hypot(0.3 * 2 * 150 / 100, 0.4 * 2 * 200 / 133))
    assert pe[0, 0] != pytest.approx(1.204159, abs=1e-3)


@pytest.mark.parametrize(
    ("original", "target", "centre", "sigma"),
    [
        ((40, 60), (64, 64), (17.3, 25.7), 3.0),  # upscale, rows padded
        ((120, 90), (64, 64), (50.2, 40.7), 4.0),  # downscale (antialias), cols padded
        ((45, 100), (64, 64), (20.6, 61.2), 4.0),  # odd padding total on rows
        ((20, 30, 24), (32, 32, 32), (9.4, 14.2, 12.7), 2.5),  # 3D upscale
        ((40, 36, 30), (24, 24, 24), (18.3, 17.6, 14.1), 4.0),  # 3D downscale
    ],
)
def test_blob_centre_lands_on_mapped_point(original, target, centre, sigma):
    rp = ResizePad(original, target)
    resized = rp.image_to_target(_blob(original, centre, sigma))
    assert tuple(resized.shape) == target
    expected = rp.points_to_target(np.array(centre))
    np.testing.assert_allclose(_centre_of_mass(resized), expected, atol=0.02)


def test_blob_centre_with_keep_aspect_false():
    rp = ResizePad((150, 200), (100, 200), keep_aspect=False)
    centre = (70.4, 90.8)
    resized = rp.image_to_target(_blob((150, 200), centre, 5.0))
    expected = rp.points_to_target(np.array(centre))
    np.testing.assert_allclose(_centre_of_mass(resized), expected, atol=0.02)


def test_single_bright_pixel_upscaled_by_two_peaks_at_mapped_position():
    image = torch.zeros(8, 8)
    image[3, 5] = 1.0
    rp = ResizePad((8, 8), (16, 16))
    out = rp.image_to_target(image)
    # (3 + 0.5) * 2 - 0.5 = 6.5: the two target pixels 6 and 7 share the peak.
    np.testing.assert_allclose(rp.points_to_target(np.array([3.0, 5.0])), [6.5, 10.5])
    assert out[6, 10] == out[7, 11] == out.max()


def test_image_keeps_leading_axes_and_pads_with_value():
    rp = ResizePad((40, 60), (64, 64))
    image = torch.ones(2, 3, 40, 60)
    out = rp.image_to_target(image, pad_value=-1.0)
    assert out.shape == (2, 3, 64, 64)
    before, after = rp.pad_before[0], rp.pad_after[0]
    assert (out[..., :before, :] == -1).all() and (out[..., 64 - after :, :] == -1).all()
    inner = out[..., before : 64 - after, :]
    torch.testing.assert_close(inner, torch.ones_like(inner))


def test_integer_image_is_converted_to_float():
    out = ResizePad((4, 4), (8, 8)).image_to_target(torch.ones(4, 4, dtype=torch.uint8))
    assert out.dtype == torch.float32


@pytest.mark.parametrize(
    ("original", "target"),
    [((40, 60), (64, 64)), ((120, 90), (64, 48)), ((20, 30, 24), (32, 16, 32))],
)
def test_points_round_trip_numpy_and_torch(original, target):
    rp = ResizePad(original, target)
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1, size=(5, 4, len(original))) * (np.array(original) - 1)
    points[0, 1] = np.nan
    back = rp.points_to_original(rp.points_to_target(points))
    np.testing.assert_allclose(back, points, atol=1e-10)
    assert np.isnan(back[0, 1]).all()
    tensor = torch.as_tensor(points, dtype=torch.float32)
    forward = rp.points_to_target(tensor)
    assert isinstance(forward, torch.Tensor) and forward.dtype == torch.float32
    np.testing.assert_allclose(forward.numpy(), rp.points_to_target(points), atol=1e-4)
    torch.testing.assert_close(rp.points_to_original(forward), tensor, equal_nan=True)


def test_points_dtype_preserved_and_integers_become_float():
    rp = ResizePad((10, 10), (20, 20))
    assert rp.points_to_target(np.zeros(2, dtype=np.float32)).dtype == np.float32
    assert rp.points_to_target(np.zeros(2, dtype=np.int64)).dtype == np.float64
    assert rp.points_to_target(torch.zeros(2, dtype=torch.int64)).is_floating_point()


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same length"):
        ResizePad((10, 10), (10, 10, 10))
    with pytest.raises(ValueError, match="positive sizes"):
        ResizePad((0, 10), (10, 10))
    rp = ResizePad((10, 12), (16, 16))
    with pytest.raises(ValueError, match="original spatial shape"):
        rp.image_to_target(torch.zeros(12, 10))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        rp.points_to_target(np.zeros((3, 3)))
