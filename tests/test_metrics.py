"""Tests for landmarkbench.metrics: PE, SDR and summaries."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from landmarkbench.metrics import point_error_mm, radius_key, sdr, summarize

NAN = float("nan")


def test_point_error_3_4_5_triangle_with_anisotropic_spacing():
    true = np.array([[[10.0, 20.0]]])
    pred = np.array([[[16.0, 22.0]]])  # 6 rows, 2 cols -> 3 mm and 4 mm
    pe = point_error_mm(pred, true, np.array([0.5, 2.0]))
    assert pe.shape == (1, 1)
    assert pe[0, 0] == pytest.approx(5.0, abs=1e-12)


def test_point_error_3d_and_per_image_spacing():
    true = np.zeros((2, 1, 3))
    pred = np.ones((2, 1, 3))
    spacing = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 1.0]])
    pe = point_error_mm(pred, true, spacing)
    np.testing.assert_allclose(pe[:, 0], [math.sqrt(14.0), 3.0], atol=1e-12)


def test_point_error_shared_spacing_equals_per_image_spacing():
    rng = np.random.default_rng(0)
    true, pred = rng.normal(size=(2, 4, 5, 2)) * 10
    shared = point_error_mm(pred, true, np.array([0.1, 0.3]))
    per_image = point_error_mm(pred, true, np.tile([0.1, 0.3], (4, 1)))
    np.testing.assert_array_equal(shared, per_image)


def test_point_error_nan_in_true_or_pred_gives_nan():
    true = np.array([[[1.0, 1.0], [NAN, NAN], [2.0, 2.0]]])
    pred = np.array([[[1.0, 2.0], [3.0, 3.0], [NAN, 2.0]]])
    pe = point_error_mm(pred, true, np.array([1.0, 1.0]))
    assert pe[0, 0] == pytest.approx(1.0)
    assert np.isnan(pe[0, 1]) and np.isnan(pe[0, 2])


@pytest.mark.parametrize(
    ("pred_shape", "true_shape", "spacing_shape", "match"),
    [
        ((2, 3, 2), (2, 3, 3), (2,), "same shape"),
        ((3, 2), (3, 2), (2,), r"\(N, C, d\)"),
        ((2, 3, 2), (2, 3, 2), (3, 2), "Spacing must have shape"),
        ((2, 3, 2), (2, 3, 2), (3,), "Spacing must have shape"),
    ],
)
def test_point_error_rejects_bad_shapes(pred_shape, true_shape, spacing_shape, match):
    with pytest.raises(ValueError, match=match):
        point_error_mm(np.zeros(pred_shape), np.zeros(true_shape), np.ones(spacing_shape))


def test_point_error_rejects_non_positive_spacing():
    with pytest.raises(ValueError, match="finite and positive"):
        point_error_mm(np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), np.array([0.0, 1.0]))


def test_sdr_operator_at_pe_equal_to_radius():
    pe = np.array([1.0, 2.0, 3.0, NAN])
    assert sdr(pe, [2.0], "<=") == {2.0: pytest.approx(200 / 3)}
    assert sdr(pe, [2.0], "<") == {2.0: pytest.approx(100 / 3)}
    assert sdr(pe, [2, 4], "<=") == {2.0: pytest.approx(200 / 3), 4.0: 100.0}


def test_sdr_rejects_unknown_operator():
    with pytest.raises(ValueError, match="SDR operator"):
        sdr(np.array([1.0]), [2.0], "=<")


def test_sdr_all_nan_is_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sdr(np.full((3, 2), NAN), [2.0, 2.5])
    assert list(result) == [2.0, 2.5]
    assert all(math.isnan(v) for v in result.values())


def test_radius_key_is_str_of_float():
    assert radius_key(2) == "2.0"
    assert radius_key(2.5) == "2.5"


# Two images, two landmarks; image 1 misses landmark 1.
PE_TABLE = np.array([[1.0, 3.0], [4.0, NAN]])


def test_summarize_pooled_hand_computed():
    s = summarize(PE_TABLE, [3.0], "<=", "pooled")
    assert s["mre"] == pytest.approx(8 / 3)
    assert s["median"] == pytest.approx(3.0)
    assert s["std"] == pytest.approx(math.sqrt(14) / 3)  # population std of 1, 3, 4
    assert s["sdr"] == {"3.0": pytest.approx(200 / 3)}
    assert (s["n_points"], s["n_missing"], s["n_images"]) == (3, 1, 2)
    assert s["operator"] == "<=" and s["aggregation"] == "pooled" and s["std_ddof"] == 0
    assert s["radii_mm"] == [3.0]


def test_summarize_per_image_differs_when_a_landmark_is_missing():
    s = summarize(PE_TABLE, [3.0], "<=", "per_image")
    # Per-image means are 2 and 4; per-image SDRs are 100 % and 0 %.
    assert s["mre"] == pytest.approx(3.0)
    assert s["median"] == pytest.approx(3.0)
    assert s["std"] == pytest.approx(1.0)
    assert s["sdr"] == {"3.0": pytest.approx(50.0)}
    assert (s["n_points"], s["n_missing"]) == (3, 1)
    assert s["mre"] != pytest.approx(summarize(PE_TABLE, [3.0], "<=")["mre"])


def test_summarize_per_image_skips_images_without_valid_landmarks():
    table = np.vstack([PE_TABLE, [NAN, NAN]])
    s = summarize(table, [3.0], "<=", "per_image")
    assert s["mre"] == pytest.approx(3.0)
    assert s["sdr"]["3.0"] == pytest.approx(50.0)
    assert (s["n_images"], s["n_missing"]) == (2, 3)


def test_summarize_per_landmark_hand_computed():
    per_landmark = summarize(PE_TABLE, [3.0], "<")["per_landmark"]
    assert per_landmark[0] == {
        "mre": pytest.approx(2.5),
        "median": pytest.approx(2.5),
        "std": pytest.approx(1.5),
        "sdr": {"3.0": pytest.approx(50.0)},
        "n": 2,
    }
    assert per_landmark[1] == {
        "mre": pytest.approx(3.0),
        "median": pytest.approx(3.0),
        "std": 0.0,
        "sdr": {"3.0": 0.0},  # "<": a PE equal to the radius is a miss
        "n": 1,
    }


def test_per_landmark_numbers_on_images_with_different_spacings():
    # Three images with different spacings, two landmarks: the same 10 px row error gives
    # 1, 5 and 10 mm. An (N, N, C) broadcast would mix the images' spacings.
    true = np.zeros((3, 2, 2))
    pred = true.copy()
    pred[:, 0, 0] = 10.0
    pred[:, 1, 1] = 4.0
    spacing = np.array([[0.1, 0.1], [0.5, 0.25], [1.0, 2.0]])
    pe = point_error_mm(pred, true, spacing)
    np.testing.assert_allclose(pe, [[1.0, 0.4], [5.0, 1.0], [10.0, 8.0]], atol=1e-12)
    s = summarize(pe, [2.0, 6.0], "<=")
    first, second = s["per_landmark"]
    assert first["mre"] == pytest.approx(16 / 3)
    assert first["median"] == pytest.approx(5.0)
    assert first["sdr"] == {"2.0": pytest.approx(100 / 3), "6.0": pytest.approx(200 / 3)}
    assert second["mre"] == pytest.approx(9.4 / 3)
    assert second["sdr"] == {"2.0": pytest.approx(200 / 3), "6.0": pytest.approx(200 / 3)}


def test_summarize_matches_numpy_nan_functions_on_random_table():
    rng = np.random.default_rng(1)
    pe = rng.gamma(2.0, 1.0, size=(7, 5))
    pe[rng.random(pe.shape) < 0.2] = NAN
    radii = [1.0, 2.0, 2.5]
    s = summarize(pe, radii, "<=")
    valid = pe[~np.isnan(pe)]
    assert s["mre"] == pytest.approx(valid.mean())
    assert s["median"] == pytest.approx(np.median(valid))
    assert s["std"] == pytest.approx(valid.std())
    for r in radii:
        assert s["sdr"][radius_key(r)] == pytest.approx(100 * np.mean(valid <= r))
    for column, entry in enumerate(s["per_landmark"]):
        col = pe[:, column][~np.isnan(pe[:, column])]
        assert entry["n"] == col.size
        assert entry["mre"] == pytest.approx(col.mean())
        assert entry["median"] == pytest.approx(np.median(col))
        assert entry["std"] == pytest.approx(col.std())


@pytest.mark.parametrize("aggregation", ["pooled", "per_image"])
def test_summarize_is_json_serialisable_plain_python(aggregation):
    s = summarize(PE_TABLE, [2.0, 2.5], "<=", aggregation)
    text = json.dumps(s, allow_nan=False)
    assert json.loads(text)["n_points"] == 3
    assert type(s["mre"]) is float and type(s["n_points"]) is int
    assert all(type(v) is float for v in s["sdr"].values())
    assert all(type(e["mre"]) is float and type(e["n"]) is int for e in s["per_landmark"])


@pytest.mark.parametrize("aggregation", ["pooled", "per_image"])
def test_summarize_all_nan_gives_nan_and_zero_count_without_warnings(aggregation):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = summarize(np.full((2, 3), NAN), [2.0], "<=", aggregation)
    assert math.isnan(s["mre"]) and math.isnan(s["median"]) and math.isnan(s["std"])
    assert math.isnan(s["sdr"]["2.0"])
    assert (s["n_points"], s["n_missing"], s["n_images"]) == (0, 6, 0)
    assert all(e["n"] == 0 and math.isnan(e["mre"]) for e in s["per_landmark"])


def test_summarize_partly_missing_column_has_no_warnings():
    table = np.array([[1.0, NAN], [2.0, NAN]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = summarize(table, [2.0], "<=")
    assert s["mre"] == pytest.approx(1.5)
    assert s["per_landmark"][1]["n"] == 0 and math.isnan(s["per_landmark"][1]["median"])


def test_summarize_even_count_median_is_midpoint():
    assert summarize(np.array([[4.0, 1.0], [2.0, 3.0]]), [2.0])["median"] == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"operator": "=="}, "SDR operator"), ({"aggregation": "mean"}, "Aggregation")],
)
def test_summarize_rejects_unknown_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        summarize(PE_TABLE, [2.0], **kwargs)


def test_summarize_rejects_non_2d_table():
    with pytest.raises(ValueError, match="N images, C landmarks"):
        summarize(np.ones(3), [2.0])
