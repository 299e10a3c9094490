"""Tests for landmarkbench.evaluation.matching: one-to-one closest-first matching, counts and F1."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from landmarkbench.evaluation.matching import match_batch, match_instances

# Two predictions A=(0,0), B=(0,3) and two truths X=(0,2), Y=(0,5) on one row.
# Nearest truth per prediction, in prediction order: A->X (2), B->Y (2).
# Global closest pair first: B-X (1) is taken first, then A-Y (5) if the radius allows it.
PRED_AB = np.array([[0.0, 0.0], [0.0, 3.0]])
TRUE_XY = np.array([[0.0, 2.0], [0.0, 5.0]])


def _nearest_per_prediction(pred, true):
    """The rule closest-first must NOT reduce to: each prediction in turn takes its nearest."""
    free = list(range(len(true)))
    pairs = []
    for i, p in enumerate(pred):
        j = min(free, key=lambda t: np.linalg.norm(p - true[t]))
        free.remove(j)
        pairs.append((i, j, float(np.linalg.norm(p - true[j]))))
    return pairs


def test_closest_first_differs_from_nearest_per_prediction():
    assert _nearest_per_prediction(PRED_AB, TRUE_XY) == [(0, 0, 2.0), (1, 1, 2.0)]
    m = match_instances(PRED_AB, TRUE_XY, radius=math.inf)
    assert m["pred_index"] == [1, 0] and m["true_index"] == [0, 1]
    assert m["pe"] == [1.0, 5.0]
    assert (m["tp"], m["fp"], m["fn"]) == (2, 0, 0)


def test_closest_first_with_radius_leaves_a_miss_and_a_false_positive():
    # B-X (1) is taken; A-Y (5) is beyond 4: A is a false positive, Y a miss (not a zero PE).
    m = match_instances(PRED_AB, TRUE_XY, radius=4.0)
    assert (m["tp"], m["fp"], m["fn"]) == (1, 1, 1)
    assert m["pe"] == [1.0] and m["pred_index"] == [1] and m["true_index"] == [0]
    assert (m["radius"], m["operator"], m["unit"]) == (4.0, "<=", "px")


def test_radius_boundary_is_inclusive():
    pred, true = np.array([[3.0, 4.0]]), np.array([[0.0, 0.0]])  # distance exactly 5
    assert match_instances(pred, true, radius=5.0)["tp"] == 1
    below = match_instances(pred, true, radius=np.nextafter(5.0, 0.0))
    assert (below["tp"], below["fp"], below["fn"]) == (0, 1, 1)


def test_radius_zero_matches_only_exact_hits():
    m = match_instances(np.array([[1.0, 1.0], [2.0, 2.0]]), np.array([[2.0, 2.0]]), 0.0)
    assert (m["tp"], m["fp"], m["fn"], m["pred_index"], m["pe"]) == (1, 1, 0, [1], [0.0])


def test_ties_broken_by_prediction_then_truth_index():
    # Both predictions are 1 px from the single truth: the lower prediction index wins.
    m = match_instances(np.array([[0.0, 1.0], [0.0, -1.0]]), np.array([[0.0, 0.0]]), 2.0)
    assert m["pred_index"] == [0] and m["fp"] == 1
    # One prediction, two truths at the same distance: the lower truth index wins.
    m = match_instances(np.array([[0.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 0.0]]), 2.0)
    assert m["true_index"] == [0] and m["fn"] == 1


def test_one_to_one_more_predictions_than_truths():
    pred = np.array([[0.0, 0.0], [0.0, 0.5], [0.0, 1.0]])
    m = match_instances(pred, np.array([[0.0, 0.4]]), 10.0)
    assert (m["tp"], m["fp"], m["fn"]) == (1, 2, 0)
    assert m["pred_index"] == [1] and m["pe"] == [pytest.approx(0.1)]


@pytest.mark.parametrize(
    ("pred", "true", "counts"),
    [
        (np.zeros((0, 2)), np.array([[1.0, 2.0], [3.0, 4.0]]), (0, 0, 2)),
        (np.array([[1.0, 2.0]]), np.zeros((0, 2)), (0, 1, 0)),
        ([], np.array([[1.0, 2.0]]), (0, 0, 1)),
        (np.zeros((0, 3)), np.zeros((0, 3)), (0, 0, 0)),
        ([], [], (0, 0, 0)),
    ],
)
def test_empty_inputs(pred, true, counts):
    m = match_instances(pred, true, 5.0, spacing=[0.5, 0.5] if np.ndim(true) != 2 else None)
    assert (m["tp"], m["fp"], m["fn"]) == counts
    assert m["pe"] == [] and m["pred_index"] == [] and m["true_index"] == []


def test_nan_rows_are_absent_points_and_indices_refer_to_given_rows():
    pred = np.array([[np.nan, np.nan], [0.0, 0.0], [5.0, 5.0]])
    true = np.array([[5.0, 6.0], [np.nan, 1.0]])
    m = match_instances(pred, true, 2.0)
    assert (m["tp"], m["fp"], m["fn"]) == (1, 1, 0)
    assert m["pred_index"] == [2] and m["true_index"] == [0] and m["pe"] == [1.0]


def test_3d_with_anisotropic_spacing_gates_in_mm():
    # Voxel offsets (1, 2, 2) at spacing (2, 1, 0.5) mm: sqrt(4 + 4 + 1) = 3 mm.
    pred = np.array([[11.0, 22.0, 32.0], [0.0, 0.0, 0.0]])
    true = np.array([[10.0, 20.0, 30.0], [0.0, 0.0, 5.0]])
    spacing = np.array([2.0, 1.0, 0.5])
    m = match_instances(pred, true, 3.0, spacing)
    # Pair 1-1 is 2.5 mm apart, pair 0-0 3 mm: both match, closest first.
    assert m["pred_index"] == [1, 0] and m["true_index"] == [1, 0]
    np.testing.assert_allclose(m["pe"], [2.5, 3.0], atol=1e-12)
    assert m["unit"] == "mm"
    # In voxels pair 0-0 is 3 apart (a match) but pair 1-1 is 5 apart (no match).
    in_voxels = match_instances(pred, true, 3.0)
    assert (in_voxels["tp"], in_voxels["fp"], in_voxels["fn"]) == (1, 1, 1)
    assert in_voxels["pe"] == [3.0] and in_voxels["unit"] == "px"


def test_distances_are_vectorised_and_match_a_loop_on_random_points():
    rng = np.random.default_rng(3)
    pred, true = rng.uniform(0, 20, size=(9, 2)), rng.uniform(0, 20, size=(7, 2))
    spacing = np.array([0.3, 0.7])
    m = match_instances(pred, true, 4.0, spacing)
    for i, j, pe in zip(m["pred_index"], m["true_index"], m["pe"], strict=True):
        assert pe == pytest.approx(float(np.linalg.norm(spacing * (pred[i] - true[j]))))
        assert pe <= 4.0
    assert m["pe"] == sorted(m["pe"])
    assert len(set(m["pred_index"])) == len(set(m["true_index"])) == m["tp"]
    assert m["tp"] + m["fp"] == 9 and m["tp"] + m["fn"] == 7


def test_match_is_json_serialisable():
    text = json.dumps(match_instances(PRED_AB, TRUE_XY, 4.0), allow_nan=False)
    assert json.loads(text)["pe"] == [1.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pred": np.zeros((2, 2)), "true": np.zeros((2, 3)), "radius": 1.0}, "same number"),
        ({"pred": np.zeros(2), "true": np.zeros((2, 2)), "radius": 1.0}, r"\(K, d\)"),
        ({"pred": np.zeros((1, 2)), "true": np.zeros((1, 2)), "radius": -1.0}, "non-negative"),
        ({"pred": np.zeros((1, 2)), "true": np.zeros((1, 2)), "radius": math.nan}, "radius"),
        (
            {"pred": np.zeros((1, 2)), "true": np.zeros((1, 2)), "radius": 1.0, "spacing": [1]},
            "Spacing",
        ),
        (
            {"pred": np.zeros((1, 2)), "true": np.zeros((1, 2)), "radius": 1.0, "spacing": [1, 0]},
            "Spacing",
        ),
    ],
)
def test_match_instances_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        match_instances(**kwargs)


def test_batch_hand_computed_micro_scores_and_per_class():
    pred = [
        {"tip": PRED_AB, "shaft": np.array([[10.0, 10.0]])},
        {"tip": np.array([[1.0, 1.0]])},  # no truth of "tip" here: a false positive
    ]
    true = [
        {"tip": TRUE_XY, "shaft": np.array([[10.0, 13.0]])},
        {"shaft": np.array([[4.0, 4.0]])},  # missed shaft
    ]
    s = match_batch(pred, true, radius=4.0)
    # tip: image 0 gives TP 1 (PE 1), FP 1, FN 1; image 1 FP 1 -> TP 1, FP 2, FN 1.
    # shaft: image 0 TP 1 (PE 3); image 1 FN 1 -> TP 1, FP 0, FN 1.
    assert s["per_class"]["tip"] == {
        "tp": 1,
        "fp": 2,
        "fn": 1,
        "precision": pytest.approx(1 / 3),
        "recall": pytest.approx(0.5),
        "f1": pytest.approx(2 / 5),
        "mean_pe": 1.0,
        "median_pe": 1.0,
    }
    assert s["per_class"]["shaft"]["precision"] == 1.0
    assert s["per_class"]["shaft"]["recall"] == 0.5
    assert list(s["per_class"]) == ["shaft", "tip"]
    assert (s["tp"], s["fp"], s["fn"]) == (2, 2, 2)
    assert (s["precision"], s["recall"], s["f1"]) == (0.5, 0.5, 0.5)
    assert s["mean_pe"] == pytest.approx(2.0) and s["median_pe"] == pytest.approx(2.0)
    assert (s["n_images"], s["radius"], s["operator"], s["unit"]) == (2, 4.0, "<=", "px")


def test_batch_zero_denominators_are_nan():
    only_truths = match_batch([{}], [{"a": np.ones((2, 2))}], 1.0)
    assert math.isnan(only_truths["precision"]) and only_truths["recall"] == 0.0
    assert only_truths["f1"] == 0.0 and math.isnan(only_truths["mean_pe"])
    only_preds = match_batch([{"a": np.ones((2, 2))}], [{}], 1.0)
    assert only_preds["precision"] == 0.0 and math.isnan(only_preds["recall"])
    assert only_preds["f1"] == 0.0
    nothing = match_batch([{"a": np.zeros((0, 2))}], [{}], 1.0)
    assert all(math.isnan(nothing[k]) for k in ("precision", "recall", "f1", "mean_pe"))
    assert (nothing["tp"], nothing["fp"], nothing["fn"]) == (0, 0, 0)
    empty = match_batch([], [], 1.0)
    assert empty["per_class"] == {} and empty["n_images"] == 0 and math.isnan(empty["f1"])


def test_batch_per_image_spacing_3d_matches_single_image_calls():
    rng = np.random.default_rng(5)
    spacing = np.array([[1.0, 0.5, 0.5], [2.0, 0.8, 0.8], [0.3, 0.3, 1.5]])
    pred, true, singles = [], [], []
    for image in range(3):
        p, t = rng.uniform(0, 10, size=(4, 3)), rng.uniform(0, 10, size=(3, 3))
        p[0] = np.nan  # a padded row
        pred.append({"c": p})
        true.append({"c": t})
        singles.append(match_instances(p, t, 5.0, spacing[image]))
    s = match_batch(pred, true, 5.0, spacing)
    assert s["tp"] == sum(m["tp"] for m in singles)
    assert s["fp"] == sum(m["fp"] for m in singles)
    assert s["fn"] == sum(m["fn"] for m in singles)
    assert s["tp"] + s["fp"] == 9 and s["tp"] + s["fn"] == 9
    pes = [pe for m in singles for pe in m["pe"]]
    assert s["mean_pe"] == pytest.approx(np.mean(pes)) and s["unit"] == "mm"
    shared = match_batch(pred, true, 5.0, spacing[0])
    assert shared["tp"] == sum(
        match_instances(p["c"], t["c"], 5.0, spacing[0])["tp"]
        for p, t in zip(pred, true, strict=True)
    )


def test_batch_rejects_mismatched_lengths_and_spacing():
    with pytest.raises(ValueError, match="same images"):
        match_batch([{}], [{}, {}], 1.0)
    with pytest.raises(ValueError, match=r"\(2, d\)"):
        match_batch([{}, {}], [{}, {}], 1.0, spacing=np.ones((3, 2)))
