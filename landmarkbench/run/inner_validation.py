"""Failures made visible: a fold's method against the mean-shape floor on its inner validation.

After a fold's method is fitted, the runner measures on the SAME inner validation cases the
method was selected on (cut from the training fold, never the test cases):

- the method's error: its ``predict()`` of those cases (the selected model, as it predicts
  the test cases), scored with the benchmark's point error (``results.scoring``);
- the floor: the ``mean_shape`` method fitted on the fold's training cases and scored the
  same way;
- for methods with probability maps (``supports_conformal``), how peaked each landmark's map
  is: the map's maximum probability times its number of grid cells (1 for a uniform map),
  median over the cases.

``results.summary.failure_flags`` turns these numbers into flags (the rule is documented
there); fold.json keeps them under ``"inner_validation"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from landmarkbench.datasets.base import Case
from landmarkbench.methods.base import FitContext, Method
from landmarkbench.methods.mean_shape import MeanShape
from landmarkbench.results.scoring import PointEvaluation
from landmarkbench.results.summary import failure_flags


def _per_landmark_mre(
    evaluation: PointEvaluation, cases: Sequence[Case], predicted: Any, names: Sequence[str]
) -> np.ndarray:
    """(C,) mean point error in mm per landmark over ``cases`` (NaN: no truth)."""
    pe = evaluation.fold_records(cases, predicted, names).point_error
    with np.errstate(invalid="ignore"):
        counts = np.sum(~np.isnan(pe), axis=0)
        sums = np.nansum(pe, axis=0)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _peak_ratios(method: Method, cases: Sequence[Case]) -> np.ndarray:
    """(C,) median over ``cases`` of max probability x grid cells of each landmark's map."""
    ratios = []
    for probabilities, _mappings in method.probability_batches(cases):
        flat = probabilities.detach().float().flatten(2)
        ratios.append((flat.amax(dim=-1) * flat.shape[-1]).cpu().numpy())
    return np.median(np.concatenate(ratios), axis=0)


def _rounded(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 4) for v in values]


def inner_validation_record(
    method: Method,
    train: Sequence[Case],
    val: Sequence[Case],
    names: Sequence[str],
    ctx: FitContext,
    *,
    is_floor: bool = False,
    selection_error: float | None = None,
) -> dict[str, Any]:
    """The fitted ``method`` and the mean shape on the inner validation cases ``val``.

    Args:
        method: The fold's fitted method.
        train: The fold's training cases (the mean shape is fitted on them).
        val: The inner validation cases the method was selected on.
        names: Landmark names.
        ctx: The fold's context (the mean shape's fit ignores it).
        is_floor: True for the ``mean_shape`` method itself (never flagged).
        selection_error: The fit summary's best validation error (recorded for reference).

    Returns:
        The JSON-friendly record stored in fold.json (numbers, then ``flags``).
    """
    evaluation = PointEvaluation()
    record: dict[str, Any] = {
        "cases": len(val),
        "selection_error": selection_error,
        "is_floor": is_floor,
    }
    if not val:
        record["flags"] = None
        record["note"] = "no inner validation cases (val_fraction 0): nothing to compare"
        return record
    floor = MeanShape({}, num_landmarks=len(names), ndim=method.ndim)
    floor.fit(train, [], ctx)
    floor_points = floor.predict(val)
    points = method.predict(val)
    floor_mre = _per_landmark_mre(evaluation, val, floor_points, names)
    method_mre = _per_landmark_mre(evaluation, val, points, names)
    peaks = _peak_ratios(method, val) if type(method).supports_conformal else None

    def pooled(values: np.ndarray) -> float | None:
        pe = evaluation.fold_records(val, values, names).point_error
        return None if np.all(np.isnan(pe)) else round(float(np.nanmean(pe)), 4)

    record.update(
        mre=pooled(points),
        mean_shape_mre=pooled(floor_points),
        landmarks=list(names),
        per_landmark_mre=_rounded(method_mre),
        per_landmark_mean_shape_mre=_rounded(floor_mre),
        per_landmark_peak_ratio=None if peaks is None else _rounded(peaks),
    )
    record["flags"] = failure_flags(record)
    return record
