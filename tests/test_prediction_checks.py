"""What a method's predict() must return, checked by the evaluation of each kind of data."""

from __future__ import annotations

import numpy as np
import pytest

from landmarkbench.errors import LandmarkBenchError
from landmarkbench.results.scoring import evaluation_for


def test_point_predictions_must_be_finite_and_shaped() -> None:
    check = evaluation_for(False).check_predictions
    check(np.zeros((3, 19, 2)), 3, 19, 2, owner="Method 'x'")
    with pytest.raises(LandmarkBenchError, match=r"shape \(3, 18, 2\); expected \(3, 19, 2\)"):
        check(np.zeros((3, 18, 2)), 3, 19, 2, owner="Method 'x'")
    points = np.zeros((3, 19, 2))
    points[1, 4, 0] = np.nan
    with pytest.raises(LandmarkBenchError, match="Method 'x' returned NaN or infinite"):
        check(points, 3, 19, 2, owner="Method 'x'")


def test_instance_predictions_need_every_case_and_class() -> None:
    check = evaluation_for(True).check_predictions
    good = [tuple(np.zeros((k, 2)) for k in (0, 2)) for _ in range(3)]
    check(good, 3, 2, 2, owner="Method 'peaks'")
    with pytest.raises(LandmarkBenchError, match="for 2 cases; expected 3 cases x 2 classes"):
        check(good[:2], 3, 2, 2, owner="Method 'peaks'")
    with pytest.raises(LandmarkBenchError, match="expected 3 cases x 2 classes"):
        check([good[0][:1], *good[1:]], 3, 2, 2, owner="Method 'peaks'")
