"""Tests for landmarkbench.evaluation.metrics: PE, SDR and summaries."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from landmarkbench.evaluation.metrics import point_error_mm, radius_key, sdr, summarize
from landmarkbench.training.geometry import ResizePad

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
        "n_missing": 0,
    }
    assert per_landmark[1] == {
        "mre": pytest.approx(3.0),
        "median": pytest.approx(3.0),
        "std": 0.0,
        "sdr": {"3.0": 0.0},  # "<": a PE equal to the radius is a miss
        "n": 1,
        "n_missing": 1,
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


def test_point_error_3d_with_nan_landmarks_and_per_image_spacing():
    true = np.zeros((2, 3, 3))
    pred = np.zeros((2, 3, 3))
    pred[0, 0] = [1.0, 2.0, 2.0]
    pred[1, 2] = [0.0, 4.0, 0.0]
    true[0, 1, 2] = NAN  # one missing axis makes the landmark missing
    pred[1, 0] = NAN
    spacing = np.array([[1.0, 1.0, 1.0], [0.5, 0.25, 2.0]])
    pe = point_error_mm(pred, true, spacing)
    expected = np.array([[3.0, NAN, 0.0], [NAN, 0.0, 1.0]])
    np.testing.assert_allclose(pe, expected, atol=1e-12)


@pytest.mark.parametrize("which", ["pred", "true"])
def test_point_error_rejects_infinite_coordinates(which):
    arrays = {"pred": np.zeros((1, 2, 2)), "true": np.zeros((1, 2, 2))}
    arrays[which][0, 1, 0] = np.inf
    with pytest.raises(ValueError, match=f"finite or NaN.*{which} holds 1 infinite"):
        point_error_mm(arrays["pred"], arrays["true"], np.ones(2))


def test_sdr_on_3d_point_errors_with_missing_landmarks():
    true = np.zeros((2, 2, 3))
    pred = np.zeros((2, 2, 3))
    pred[0, 0] = [2.0, 0.0, 0.0]  # 2 mm at spacing 1
    pred[0, 1] = [0.0, 0.0, 1.0]  # 3 mm at spacing 3 on the last axis
    pred[1, 0] = NAN
    pred[1, 1] = [1.0, 1.0, 0.0]  # sqrt(2) mm
    pe = point_error_mm(pred, true, np.array([1.0, 1.0, 3.0]))
    assert sdr(pe, [2.0, 3.0], "<=") == {2.0: pytest.approx(200 / 3), 3.0: 100.0}
    assert sdr(pe, [2.0, 3.0], "<") == {2.0: pytest.approx(100 / 3), 3.0: pytest.approx(200 / 3)}


def test_summarize_on_3d_point_errors_with_missing_landmarks():
    true = np.zeros((3, 2, 3))
    pred = np.zeros((3, 2, 3))
    pred[:, 0, 2] = [1.0, 2.0, 3.0]
    pred[:, 1, 0] = [4.0, NAN, 2.0]
    pe = point_error_mm(pred, true, np.array([0.5, 1.0, 1.0]))  # landmark 1 row axis: 0.5 mm/px
    s = summarize(pe, [1.0], "<=")
    assert (s["n_points"], s["n_missing"], s["n_images"]) == (5, 1, 3)
    assert s["mre"] == pytest.approx((1 + 2 + 3 + 2 + 1) / 5)
    assert [e["mre"] for e in s["per_landmark"]] == [pytest.approx(2.0), pytest.approx(1.5)]
    assert [e["n_missing"] for e in s["per_landmark"]] == [0, 1]
    assert s["per_landmark"][1]["sdr"] == {"1.0": 50.0}
    per_image = summarize(pe, [1.0], "<=", "per_image")
    assert per_image["mre"] == pytest.approx((1.5 + 2.0 + 2.0) / 3)


@pytest.mark.parametrize("bad", [-0.1, np.inf, -np.inf])
def test_sdr_and_summarize_reject_negative_or_infinite_point_errors(bad):
    pe = np.array([[1.0, bad]])
    with pytest.raises(ValueError, match="non-negative and finite"):
        sdr(pe, [2.0])
    with pytest.raises(ValueError, match="non-negative and finite"):
        summarize(pe, [2.0])


@pytest.mark.parametrize("radii", [[-1.0], [NAN], [2.0, np.inf]])
def test_sdr_and_summarize_reject_bad_radii(radii):
    with pytest.raises(ValueError, match="radii must be finite and non-negative"):
        sdr(np.array([1.0]), radii)
    with pytest.raises(ValueError, match="radii must be finite and non-negative"):
        summarize(np.array([[1.0]]), radii)


def test_sdr_accepts_a_scalar_radius_and_radius_zero():
    assert sdr(np.array([0.0, 1.0]), 0) == {0.0: 50.0}
    assert sdr(np.array([0.0, 1.0]), 0, "<") == {0.0: 0.0}


# --- Acceptance: per-landmark numbers on a batch of images of different sizes and spacings ---

BATCHES = {
    2: {
        "shapes": [(240, 180), (150, 300), (200, 200)],
        "spacing": [[0.1, 0.12], [0.3, 0.25], [0.2, 0.2]],
        "target": (128, 128),
    },
    3: {
        "shapes": [(40, 60, 50), (80, 40, 40), (30, 30, 60)],
        "spacing": [[1.0, 0.5, 0.5], [0.4, 0.8, 0.8], [2.5, 0.6, 0.3]],
        "target": (32, 32, 32),
    },
}
N_LANDMARKS = 5
RADII = [0.5, 1.0, 2.0, 3.0]


def _network_batch(d: int):
    """Truths and predictions on the network grid plus what is needed to map them back."""
    cfg = BATCHES[d]
    rng = np.random.default_rng(10 + d)
    maps = [ResizePad(shape, cfg["target"]) for shape in cfg["shapes"]]
    true_orig = np.stack(
        [
            rng.uniform(0.1, 0.9, size=(N_LANDMARKS, d)) * (np.array(m.original_shape) - 1)
            for m in maps
        ]
    )
    true_orig[1, 2] = NAN  # a missing truth
    true_net = np.stack([m.points_to_target(t) for m, t in zip(maps, true_orig, strict=True)])
    delta = rng.normal(0.0, 1.5, size=true_net.shape)  # prediction error on the network grid
    pred_net = true_net + delta
    pred_net[2, 0] = NAN  # a missing prediction
    return maps, np.asarray(cfg["spacing"]), true_net, pred_net, delta


def _ours(maps, spacing, true_net, pred_net):
    true = np.stack([m.points_to_original(t) for m, t in zip(maps, true_net, strict=True)])
    pred = np.stack([m.points_to_original(p) for m, p in zip(maps, pred_net, strict=True)])
    pe = point_error_mm(pred, true, spacing)
    return pe, summarize(pe, RADII, "<=")


@pytest.mark.parametrize("d", [2, 3])
def test_per_landmark_sdr_on_images_of_different_sizes_paddings_and_spacings(d):
    maps, spacing, true_net, pred_net, delta = _network_batch(d)
    assert len({m.pad_before for m in maps}) == len(maps)  # really different paddings
    pe, summary = _ours(maps, spacing, true_net, pred_net)
    # Independent loop: a network-grid offset delta_k is delta_k / s_k original pixels
    # (padding cancels), i.e. spacing_k * delta_k / s_k mm, with s_k = resized_k / original_k.
    for c in range(N_LANDMARKS):
        errors = []
        for i, m in enumerate(maps):
            if np.isnan(true_net[i, c]).any() or np.isnan(pred_net[i, c]).any():
                assert np.isnan(pe[i, c])
                continue
            mm = [
                spacing[i][k] * delta[i, c, k] * m.original_shape[k] / m.resized_shape[k]
                for k in range(d)
            ]
            errors.append(math.sqrt(sum(v * v for v in mm)))
            assert pe[i, c] == pytest.approx(errors[-1], rel=1e-9)
        entry = summary["per_landmark"][c]
        assert entry["n"] == len(errors) and entry["n_missing"] == len(maps) - len(errors)
        assert entry["mre"] == pytest.approx(sum(errors) / len(errors))
        for r in RADII:
            hits = sum(1 for e in errors if e <= r)
            assert entry["sdr"][radius_key(r)] == pytest.approx(100.0 * hits / len(errors))


def _naive_broadcast_per_landmark(maps, spacing, true_net, pred_net, c):
    """What per-landmark code computes when it slices one landmark, (N, d), and then applies
    per-image scale/offset/spacing shaped (N, 1, d): an (N, N) table mixing images."""
    d = true_net.shape[-1]
    scale = np.stack([np.array(m.resized_shape) / np.array(m.original_shape) for m in maps])
    offset = 0.5 * scale - 0.5 + np.stack([np.array(m.pad_before) for m in maps])
    scale, offset = scale.reshape(-1, 1, d), offset.reshape(-1, 1, d)
    true = (true_net[:, c] - offset) / scale  # (N, N, d)
    pred = (pred_net[:, c] - offset) / scale
    return np.sqrt(np.sum((spacing.reshape(-1, 1, d) * (pred - true)) ** 2, axis=-1))


@pytest.mark.parametrize("d", [2, 3])
def test_per_landmark_values_differ_from_an_n_n_broadcast(d):
    maps, spacing, true_net, pred_net, _ = _network_batch(d)
    pe, summary = _ours(maps, spacing, true_net, pred_net)
    n_differ = 0
    for c in range(N_LANDMARKS):
        naive = _naive_broadcast_per_landmark(maps, spacing, true_net, pred_net, c)
        assert naive.shape == (len(maps), len(maps))
        # Its diagonal is the right answer; the off-diagonal entries pair image i's geometry
        # with image j's points, so means and rates over the table are wrong.
        np.testing.assert_allclose(np.diagonal(naive), pe[:, c], rtol=1e-9)
        naive_mre = float(np.nanmean(naive))
        naive_sdr = {r: 100.0 * np.mean(naive[~np.isnan(naive)] <= r) for r in RADII}
        ours = summary["per_landmark"][c]
        differs = naive_mre != pytest.approx(ours["mre"], rel=1e-6) or any(
            naive_sdr[r] != pytest.approx(ours["sdr"][radius_key(r)]) for r in RADII
        )
        n_differ += differs
    assert n_differ == N_LANDMARKS


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("per_image", [True, False])
def test_point_error_matches_an_explicit_loop_with_nan(d, per_image):
    rng = np.random.default_rng(d)
    true = rng.uniform(0, 500, size=(6, 4, d))
    pred = true + rng.normal(0, 5, size=true.shape)
    pred[1, 2, 0] = NAN
    true[4, 0, d - 1] = NAN
    spacing = rng.uniform(0.1, 2.0, size=(6, d) if per_image else (d,))
    pe = point_error_mm(pred, true, spacing)
    for i in range(6):
        s = spacing[i] if per_image else spacing
        for c in range(4):
            expected = math.sqrt(
                sum((s[k] * (pred[i, c, k] - true[i, c, k])) ** 2 for k in range(d))
            )
            if math.isnan(expected):
                assert math.isnan(pe[i, c])
            else:
                assert pe[i, c] == pytest.approx(expected, rel=1e-12)
