"""Tests for landmarkbench.uncertainty.conformal: M-R2CCP conformal prediction regions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from landmarkbench.uncertainty.conformal import (
    ConformalCalibration,
    calibrate,
    calibrate_scores,
    conformity_scores,
    quantile_rank,
)
from landmarkbench.uncertainty.probability_maps import (
    interpolate_at,
    interpolate_points,
    regions,
    spatial_softmax,
)
from landmarkbench.uncertainty.region_measure import region_measure
from landmarkbench.uncertainty.region_stats import evaluate_regions


def _gaussian_maps(centres: torch.Tensor, sigma: torch.Tensor, shape: tuple[int, ...]):
    """Gaussian probability maps (sum 1) at ``centres`` (N, C, d) with ``sigma`` (N, C)."""
    axes = [torch.arange(size, dtype=torch.float64) for size in shape]
    grids = torch.meshgrid(*axes, indexing="ij")
    squared = torch.zeros((*centres.shape[:2], *shape), dtype=torch.float64)
    for axis, grid in enumerate(grids):
        centre = centres[..., axis].reshape(*centres.shape[:2], *([1] * len(shape)))
        squared += (grid - centre) ** 2
    spread = sigma.reshape(*sigma.shape, *([1] * len(shape)))
    logits = -squared / (2 * spread**2)
    return spatial_softmax(logits).to(torch.float32)


def _synthetic_split(cases: int, landmarks: int, shape: tuple[int, ...], generator):
    """Exchangeable cases: a Gaussian map at the prediction; truth = prediction + N(0, s^2)."""
    d = len(shape)
    size = torch.tensor(shape, dtype=torch.float64)
    predicted = size / 2 + (torch.rand(cases, landmarks, d, generator=generator) - 0.5) * 8
    sigma = 1.0 + 2.0 * torch.rand(cases, 1, generator=generator).double()
    sigma = sigma.expand(cases, landmarks).contiguous()
    noise = torch.randn(cases, landmarks, d, generator=generator, dtype=torch.float64)
    truth = predicted + noise * sigma[..., None]
    return _gaussian_maps(predicted, sigma, shape), truth, predicted, sigma


# ----------------------------------------------------------------------------- acceptance


def test_acceptance_coverage_at_90_percent_on_exchangeable_data() -> None:
    generator = torch.Generator().manual_seed(2025)
    shape = (40, 40)
    cal_maps, cal_truth, _, _ = _synthetic_split(500, 4, shape, generator)  # 2000 pairs
    test_maps, test_truth, test_pred, _ = _synthetic_split(750, 4, shape, generator)  # 3000
    calibration = calibrate(cal_maps, cal_truth, alpha=0.1)
    assert calibration.n == (500,) * 4
    assert calibration.rank == (451,) * 4  # ceil(501 * 0.9) = ceil(450.9)
    assert calibration.whole_image_landmarks == []
    result = evaluate_regions(calibration, test_maps, test_truth, np.array([0.1, 0.1]), test_pred)
    print(f"measured coverage at 90 %: {result['coverage']:.4f}")
    assert 0.87 <= result["coverage"] <= 0.93
    assert result["n_evaluated"] == 3000
    assert np.all(result["coverage_per_landmark"] > 0.84)
    # Sizes measure the interpolated region; its pixel-centre count is close.
    np.testing.assert_allclose(result["size"], region_measure(calibration, test_maps) * 0.01)
    centres = regions(calibration, test_maps).sum(dim=(2, 3)).numpy() * 0.01
    assert abs(result["mean_size"] / centres.mean() - 1) < 0.05
    assert result["size_unit"] == "mm^2"


# ----------------------------------------------------------------------------- the rank rule


@pytest.mark.parametrize(
    ("n", "alpha", "rank"),
    [(5, 0.1, 6), (9, 0.1, 9), (10, 0.1, 10), (19, 0.1, 18), (19, 0.05, 19), (0, 0.1, 1)],
)
def test_quantile_rank(n: int, alpha: float, rank: int) -> None:
    assert quantile_rank(n, alpha) == rank


def test_small_n_gives_whole_image_and_is_flagged() -> None:
    generator = torch.Generator().manual_seed(0)
    maps, truth, _, _ = _synthetic_split(5, 2, (16, 16), generator)
    calibration = calibrate(maps, truth, alpha=0.1)  # (5 + 1) * 0.9 = 5.4 > 5
    assert calibration.whole_image == (True, True)
    assert calibration.q == (None, None)
    assert calibration.whole_image_landmarks == [0, 1]
    masks = regions(calibration, maps)
    assert bool(masks.all())
    result = evaluate_regions(calibration, maps, truth, np.array([1.0, 2.0]))
    assert result["whole_image_landmarks"] == [0, 1]
    assert result["coverage"] == 1.0
    np.testing.assert_allclose(result["size"], 16 * 16 * 2.0)


def test_n9_takes_the_ninth_smallest_score_not_the_smallest() -> None:
    generator = torch.Generator().manual_seed(1)
    maps, truth, _, _ = _synthetic_split(9, 1, (16, 16), generator)
    scores = conformity_scores(maps, truth)[:, 0]
    calibration = calibrate(maps, truth, alpha=0.1)
    assert calibration.whole_image == (False,)
    assert calibration.rank == (9,)
    assert calibration.q[0] == pytest.approx(float(scores.sort().values[8]))
    assert calibration.q[0] == pytest.approx(float(scores.max()))
    # Every calibration truth lies in its own region (the 9th of 9 scores).
    result = evaluate_regions(calibration, maps, truth, np.array([1.0, 1.0]))
    assert result["coverage"] == 1.0


def test_n19_takes_the_eighteenth_smallest_score() -> None:
    scores = torch.linspace(-0.9, -0.1, 19)[torch.randperm(19)][:, None]
    calibration = calibrate_scores(scores, alpha=0.1)
    assert calibration.q[0] == pytest.approx(float(torch.linspace(-0.9, -0.1, 19)[17]))


# ----------------------------------------------------------------------------- interpolation


@pytest.mark.parametrize("shape", [(7, 9), (5, 6, 7)])
def test_interpolation_is_exact_for_linear_maps_and_matches_grid_sample(shape) -> None:
    d = len(shape)
    generator = torch.Generator().manual_seed(3)
    coefficients = torch.rand(d, generator=generator, dtype=torch.float64)
    grids = torch.meshgrid(*[torch.arange(s, dtype=torch.float64) for s in shape], indexing="ij")
    linear = sum(c * g for c, g in zip(coefficients, grids, strict=True)) + 0.5
    maps = linear.expand(2, 3, *shape).contiguous()
    upper = torch.tensor(shape, dtype=torch.float64) - 1
    points = torch.rand(2, 3, d, generator=generator, dtype=torch.float64) * upper
    values = interpolate_at(maps, points)
    np.testing.assert_allclose(values, (points * coefficients).sum(-1) + 0.5, atol=1e-12)
    # grid_sample with align_corners=True: normalised coords, last axis first.
    normalised = (2 * points / upper - 1).flip(-1)
    grid = normalised.reshape(2 * 3, *([1] * (d - 1)), 1, d)
    sampled = F.grid_sample(maps.reshape(6, 1, *shape), grid, align_corners=True)
    np.testing.assert_allclose(values.reshape(-1), sampled.reshape(-1), atol=1e-12)


def test_interpolation_edges_outside_and_nan() -> None:
    maps = torch.arange(12, dtype=torch.float32).reshape(1, 1, 3, 4).expand(1, 4, 3, 4)
    points = torch.tensor([[[1.0, 2.0], [-0.4, 3.3], [-0.6, 1.0], [math.nan, 1.0]]])
    values = interpolate_at(maps, points)
    assert values[0, 0] == 6.0  # pixel centre: exact pixel value
    assert values[0, 1] == 3.0  # inside the extent beyond the centre: border value
    assert values[0, 2] == 0.0  # outside the image: no probability
    assert math.isnan(values[0, 3])


# ----------------------------------------------------------------------------- 2D and 3D


def test_three_dimensional_regions_volume_and_coverage() -> None:
    generator = torch.Generator().manual_seed(4)
    shape = (12, 14, 16)
    cal_maps, cal_truth, _, _ = _synthetic_split(60, 2, shape, generator)
    test_maps, test_truth, test_pred, _ = _synthetic_split(40, 2, shape, generator)
    calibration = calibrate(cal_maps, cal_truth, alpha=0.2)
    masks = regions(calibration, test_maps)
    assert masks.shape == test_maps.shape and masks.dtype == torch.bool
    spacing = np.tile([2.0, 0.5, 1.5], (40, 1))
    result = evaluate_regions(calibration, test_maps, test_truth, spacing, test_pred)
    assert result["size_unit"] == "mm^3"
    np.testing.assert_allclose(result["size"], region_measure(calibration, test_maps) * 1.5)
    assert 0.6 <= result["coverage"] <= 0.97
    assert result["point_error"].shape == (40, 2)


def test_region_is_threshold_on_probability_and_can_have_several_blobs() -> None:
    probabilities = torch.zeros(1, 1, 10, 10)
    probabilities[0, 0, 2, 2] = 0.4
    probabilities[0, 0, 7, 7] = 0.35
    probabilities[0, 0, 5, 5] = 0.25
    calibration = calibrate_scores(torch.full((20, 1), -0.3), alpha=0.1)
    mask = regions(calibration, probabilities)[0, 0]
    assert mask.sum() == 2 and mask[2, 2] and mask[7, 7] and not mask[5, 5]


def test_float32_threshold_is_exact() -> None:
    value = torch.tensor(0.1, dtype=torch.float32)
    calibration = calibrate_scores(torch.full((20, 1), -float(value)), alpha=0.1)
    probabilities = torch.zeros(1, 1, 4, 4)
    probabilities[0, 0, 1, 1] = value
    probabilities[0, 0, 2, 2] = torch.nextafter(value, torch.tensor(0.0))
    mask = regions(calibration, probabilities)[0, 0]
    assert mask[1, 1] and not mask[2, 2]


# ----------------------------------------------------------------------------- missing, spacing


def test_missing_truths_are_excluded_and_counted() -> None:
    generator = torch.Generator().manual_seed(5)
    maps, truth, pred, _ = _synthetic_split(30, 3, (16, 16), generator)
    truth[:4, 0] = math.nan
    truth[10, 2, 1] = math.nan
    calibration = calibrate(maps, truth, alpha=0.1)
    assert calibration.n == (26, 30, 29)
    assert calibration.n_excluded == (4, 0, 1)
    reference = calibrate(maps[4:, :1], truth[4:, :1], alpha=0.1)
    assert calibration.q[0] == reference.q[0]
    result = evaluate_regions(calibration, maps, truth, np.array([1.0, 1.0]), pred)
    assert result["n_excluded"] == 5
    assert result["n_evaluated"] == 85
    np.testing.assert_array_equal(result["n_excluded_per_landmark"], [4, 0, 1])
    assert not result["covered"][:4, 0].any()
    assert np.isfinite(result["spearman_rho"])
    expected = result["covered"][4:, 0].mean()
    assert result["coverage_per_landmark"][0] == pytest.approx(expected)


def test_area_with_anisotropic_spacing_per_case() -> None:
    probabilities = torch.zeros(2, 1, 8, 8)
    probabilities[0, 0, 1:3, 1:4] = 1 / 6  # 6 pixels
    probabilities[1, 0, 2:6, 2:5] = 1 / 12  # 12 pixels
    calibration = calibrate_scores(torch.full((30, 1), -0.05), alpha=0.1)
    truth = torch.tensor([[[1.0, 1.0]], [[3.0, 3.0]]])
    spacing = np.array([[0.5, 2.0], [0.1, 0.3]])
    result = evaluate_regions(calibration, probabilities, truth, spacing)
    # Blocks of 2 x 3 and 4 x 3 pixels at 1/6 and 1/12 around zero, threshold 0.05: the
    # interpolated region reaches 0.7 and 0.4 px past the block centres, with corners where
    # (1 - x)(1 - y) >= 0.3 and 0.6: 2 + 4.2 + 4(0.7 - 0.3 ln(1/0.3)) = 7.5552 pixels and
    # 6 + 4.0 + 4(0.4 - 0.6 ln(1/0.6)) = 10.3740 pixels. Edges aligned with the grid are
    # the worst case of the supersampling: within 1/(2 x 16) px per unit of boundary.
    expected = np.array([7.5552 * 1.0, 10.3740 * 0.03])
    np.testing.assert_allclose(result["size"][:, 0], expected, rtol=0.03)
    assert result["mean_size"] == pytest.approx(expected.mean(), rel=0.03)
    assert result["coverage"] == 1.0
    assert math.isnan(result["spearman_rho"])  # no predictions given


def test_spearman_is_positive_when_wider_maps_have_larger_errors() -> None:
    generator = torch.Generator().manual_seed(6)
    cal_maps, cal_truth, _, _ = _synthetic_split(200, 1, (40, 40), generator)
    test_maps, test_truth, test_pred, sigma = _synthetic_split(200, 1, (40, 40), generator)
    calibration = calibrate(cal_maps, cal_truth, alpha=0.1)
    result = evaluate_regions(calibration, test_maps, test_truth, np.array([1.0, 1.0]), test_pred)
    assert result["spearman_rho"] > 0.3
    assert result["spearman_rho_per_landmark"][0] == pytest.approx(result["spearman_rho"])
    # Region size grows with the map width.
    order = np.argsort(sigma[:, 0].numpy())
    assert result["size"][order[-20:], 0].mean() > 2 * result["size"][order[:20], 0].mean()


# ------------------------------------------------------------------ serialisation, errors


def test_json_round_trip() -> None:
    scores = torch.tensor([[-0.5, math.nan], [-0.2, -0.1], [-0.3, -0.4]])
    calibration = calibrate_scores(scores, alpha=0.5)
    data = json.loads(json.dumps(calibration.to_json_dict()))
    assert data["method"] == "M-R2CCP"
    assert ConformalCalibration.from_json_dict(data) == calibration
    small = calibrate_scores(scores, alpha=0.1)
    restored = ConformalCalibration.from_json_dict(json.loads(json.dumps(small.to_json_dict())))
    assert restored.whole_image == (True, True) and restored.q == (None, None)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, math.nan])
def test_bad_alpha_is_rejected(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        calibrate_scores(torch.zeros(5, 1), alpha)


def test_shape_and_value_errors() -> None:
    maps = torch.full((2, 3, 4, 4), 1 / 16)
    with pytest.raises(ValueError, match="truth"):
        evaluate_regions(
            calibrate_scores(torch.zeros(30, 3), 0.1), maps, torch.zeros(2, 3, 3), [1.0, 1.0]
        )
    with pytest.raises(ValueError, match="landmarks"):
        regions(calibrate_scores(torch.zeros(30, 2), 0.1), maps)
    with pytest.raises(ValueError, match="non-negative"):
        calibrate(maps - 1, torch.zeros(2, 3, 2), 0.1)
    with pytest.raises(ValueError, match="spacing"):
        evaluate_regions(
            calibrate_scores(torch.zeros(30, 3), 0.1), maps, torch.zeros(2, 3, 2), [1.0, 0.0]
        )
    with pytest.raises(ValueError, match="ConformalCalibration"):
        ConformalCalibration.from_json_dict({"alpha": 0.1})


def test_expected_coverage_is_k_over_n_plus_one() -> None:
    scores = torch.linspace(-1.0, -0.1, 16)[:, None].repeat(1, 2)
    scores[:, 1] = math.nan  # no calibration point: whole image, coverage 1
    calibration = calibrate_scores(scores, alpha=0.1)
    assert calibration.rank[0] == 16 and calibration.n[0] == 16
    assert calibration.expected_coverage() == pytest.approx((16 / 17, 1.0))


def _dense_measure(calibration, maps: torch.Tensor, per_axis: int) -> np.ndarray:
    """Brute force: the share of a dense regular sub-grid over the whole image extent where
    the interpolated map reaches the threshold, in pixels."""
    shape = maps.shape[2:]
    axes = [(torch.arange(n * per_axis, dtype=torch.float64) + 0.5) / per_axis - 0.5 for n in shape]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(shape))
    points = grid.expand(*maps.shape[:2], *grid.shape)
    values = interpolate_points(maps, points)
    exact = calibration.probability_thresholds()[None, :, None]
    return (values >= exact).double().mean(dim=-1).numpy() * math.prod(shape)


@pytest.mark.parametrize(
    ("shape", "per_axis", "rtol"), [((20, 24), 32, 0.01), ((8, 9, 10), 12, 0.02)]
)
def test_region_size_is_the_area_of_the_interpolated_region(shape, per_axis, rtol) -> None:
    generator = torch.Generator().manual_seed(8)
    maps, truth, _, _ = _synthetic_split(3, 2, shape, generator)
    calibration = calibrate(maps, truth, alpha=0.4)
    assert not calibration.whole_image_landmarks
    np.testing.assert_allclose(
        region_measure(calibration, maps), _dense_measure(calibration, maps, per_axis), rtol=rtol
    )


def test_whole_image_regions_measure_the_whole_grid() -> None:
    calibration = calibrate_scores(torch.full((3, 1), -0.1), alpha=0.1)  # k = 4 > n = 3
    maps = spatial_softmax(torch.randn(2, 1, 5, 7, generator=torch.Generator().manual_seed(1)))
    np.testing.assert_allclose(region_measure(calibration, maps), 35.0)
