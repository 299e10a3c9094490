"""Our M-R2CCP thresholds against landmarker's reference ``MR2CCP`` (skipped without it).

Where the calibration set is large enough the two pick the same order statistic,
``ceil((n + 1)(1 - alpha))``-th smallest score. Where ``(n + 1)(1 - alpha) > n`` the reference
indexes position -1 of its descending list, the smallest score, the tightest region there is
(the anti-conservative bug named in docs/methods.md); ours returns the whole image. And at
90 % the reference truncates ``int((1 - 0.9)(n + 1))`` in floating point, one rank above the
formula whenever ``n + 1`` is a multiple of 10. (Needs landmarker and scikit-image.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landmarkbench.uncertainty.conformal import calibrate_scores

uncertainty = pytest.importorskip("landmarker.uncertainty.uncertainty")


def _reference_bound(scores: np.ndarray, confidence: float) -> np.ndarray:
    reference = uncertainty.MR2CCP(spatial_dims=2, nb_landmarks=scores.shape[1])
    reference.alphas = np.sort(scores, axis=0)[::-1]  # what MR2CCP.fit stores
    return np.asarray(reference.bound(confidence))


@pytest.mark.parametrize(("n", "confidence"), [(19, 0.95), (99, 0.95), (150, 0.95), (40, 0.8)])
def test_same_threshold_as_the_reference_with_enough_calibration_cases(n, confidence) -> None:
    rng = np.random.default_rng(n)
    scores = -rng.uniform(0.0, 0.2, size=(n, 3))
    ours = calibrate_scores(torch.from_numpy(scores), alpha=1.0 - confidence)
    assert not ours.whole_image_landmarks
    np.testing.assert_array_equal(np.array(ours.q), _reference_bound(scores, confidence))


def test_with_too_few_cases_the_reference_shrinks_and_ours_takes_the_whole_image() -> None:
    scores = -np.random.default_rng(0).uniform(0.0, 0.2, size=(10, 2))  # 11 x 0.95 > 10
    ours = calibrate_scores(torch.from_numpy(scores), alpha=0.05)
    assert ours.whole_image == (True, True) and ours.q == (None, None)
    np.testing.assert_array_equal(_reference_bound(scores, 0.95), scores.min(axis=0))


@pytest.mark.parametrize("n", [29, 99, 199])
def test_reference_float_truncation_at_90_percent_is_one_rank_more_conservative(n) -> None:
    # 1 - 0.9 = 0.09999999999999998 in binary, so int(0.1 x (n + 1)) loses one when n + 1 is a
    # multiple of 10: the reference takes the (k + 1)-th smallest score; ours the k-th.
    scores = -np.random.default_rng(n).uniform(0.0, 0.2, size=(n, 1))
    ours = calibrate_scores(torch.from_numpy(scores), alpha=0.1)
    ordered = np.sort(scores[:, 0])
    assert ours.rank[0] == round(0.9 * (n + 1)) and ours.q[0] == ordered[ours.rank[0] - 1]
    assert _reference_bound(scores, 0.9)[0] == ordered[ours.rank[0]]
