"""What conformal regions achieve on a test split: coverage, size, error-size correlation.

Per (case, landmark) pair a region has a size (``region_measure``, in map pixels, x the
pixel area/volume: mm^2 in 2D, mm^3 in 3D) and its truth is covered or not
(``conformal.truth_covered``). ``region_pairs``
computes these for one batch of maps (large 3D test sets are scored batch by batch and the
batches concatenated); ``summarize_regions`` turns pairs into the reported statistics;
``evaluate_regions`` does both for maps held in memory at once.

Missing truths (NaN) are excluded from coverage, size statistics and correlations, and
counted.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import stats

from landmarkbench.uncertainty.conformal import ConformalCalibration
from landmarkbench.uncertainty.probability_maps import RegionRule, truth_covered
from landmarkbench.uncertainty.region_measure import region_measure

__all__ = [
    "RegionPairs",
    "evaluate_regions",
    "region_pairs",
    "size_unit",
    "spearman",
    "summarize_regions",
]


def size_unit(ndim: int) -> str:
    """The unit of region sizes: mm^2 (area) in 2D, mm^3 (volume) in 3D."""
    return "mm^2" if ndim == 2 else "mm^3"


@dataclass(frozen=True)
class RegionPairs:
    """Per (case, landmark): truth covered, region size in mm^d, truth present; (M, C)."""

    covered: np.ndarray
    size: np.ndarray
    present: np.ndarray

    @classmethod
    def concatenate(cls, parts: Sequence[RegionPairs]) -> RegionPairs:
        """Pairs of several batches (or folds) stacked along the case axis."""
        return cls(
            covered=np.concatenate([p.covered for p in parts]),
            size=np.concatenate([p.size for p in parts]),
            present=np.concatenate([p.present for p in parts]),
        )


def _map_spacing(spacing: torch.Tensor | np.ndarray, num_cases: int, ndim: int) -> np.ndarray:
    """mm per map pixel as (M, d), validated."""
    values = np.asarray(
        spacing.detach().cpu().numpy() if isinstance(spacing, torch.Tensor) else spacing,
        dtype=np.float64,
    )
    if values.shape == (ndim,):
        values = np.broadcast_to(values, (num_cases, ndim))
    if values.shape != (num_cases, ndim):
        raise ValueError(
            f"spacing must have shape ({num_cases}, {ndim}) or ({ndim},); got "
            f"{values.shape}. Pass mm per map pixel along each array axis."
        )
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise ValueError(
            "spacing must be positive and finite; got a zero, negative or NaN value. "
            "Pass mm per map pixel along each array axis."
        )
    return values


def region_pairs(
    rule: RegionRule,
    probabilities: torch.Tensor,
    truth: torch.Tensor,
    spacing: torch.Tensor | np.ndarray,
) -> RegionPairs:
    """Coverage and region size of every (case, landmark) pair of one batch.

    Args:
        rule: A ``ConformalCalibration`` from ``calibrate`` (or another ``RegionRule``).
        probabilities: Spatial-softmax maps (M, C, *spatial).
        truth: True points (M, C, d) in pixel indices of the map grid, NaN = missing.
        spacing: mm per map pixel per axis, (M, d) or (d,) for all cases.

    Returns:
        The pairs.

    Raises:
        ValueError: If shapes do not match, the spacing is not positive or the landmark
            count differs from the calibration.
    """
    covered, present = truth_covered(rule, probabilities, truth)
    num_cases, ndim = probabilities.shape[0], probabilities.ndim - 2
    pixel_size = np.prod(_map_spacing(spacing, num_cases, ndim), axis=1)
    measure = region_measure(rule, probabilities)
    return RegionPairs(covered, measure * pixel_size[:, None], present)


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman rho and its p-value over the finite pairs; NaN with fewer than 3 pairs or
    a constant side."""
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    result = stats.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def summarize_regions(
    pairs: RegionPairs,
    *,
    alpha: float,
    ndim: int,
    whole_image_landmarks: Sequence[int] = (),
    point_error: np.ndarray | None = None,
) -> dict[str, Any]:
    """The reported statistics of conformal regions over a set of pairs.

    Args:
        pairs: Coverage and sizes, (M, C).
        alpha: Miscoverage level the regions were calibrated for.
        ndim: Spatial dimensionality (for the size unit).
        whole_image_landmarks: Landmarks whose region is the whole image (stated).
        point_error: Point error (M, C) in mm of the method's predictions, or None (no
            correlation).

    Returns:
        A dict with ``coverage`` (float), ``coverage_per_landmark`` (C,), ``covered``
        (M, C) bool, ``size`` (M, C), ``size_unit``, ``mean_size``, ``median_size``,
        ``mean_size_per_landmark`` and ``median_size_per_landmark`` (C,), ``point_error``,
        ``spearman_rho`` and ``spearman_p`` (error vs size over all pairs),
        ``spearman_rho_per_landmark`` (C,), ``n_evaluated``, ``n_excluded``,
        ``n_excluded_per_landmark`` (C,), ``whole_image_landmarks``, ``alpha`` and
        ``target_coverage``. Arrays are numpy.
    """
    covered, size, present = pairs.covered, pairs.size, pairs.present
    n_present = int(present.sum())
    per_landmark_n = present.sum(axis=0)
    with np.errstate(all="ignore"):
        coverage_per_landmark = np.where(
            per_landmark_n > 0, covered.sum(axis=0) / np.maximum(per_landmark_n, 1), np.nan
        )
    masked = np.where(present, size, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing landmark -> NaN
        mean_per_landmark = np.nanmean(masked, axis=0)
        median_per_landmark = np.nanmedian(masked, axis=0)
    rho, p_value = math.nan, math.nan
    rho_per_landmark = np.full(size.shape[1], math.nan)
    if point_error is not None:
        error_kept = np.where(present, point_error, np.nan)
        rho, p_value = spearman(error_kept, size)
        rho_per_landmark = np.array(
            [spearman(error_kept[:, i], size[:, i])[0] for i in range(size.shape[1])]
        )
    return {
        "alpha": alpha,
        "target_coverage": 1.0 - alpha,
        "coverage": float(covered.sum() / n_present) if n_present else math.nan,
        "coverage_per_landmark": coverage_per_landmark,
        "covered": covered,
        "size": size,
        "size_unit": size_unit(ndim),
        "mean_size": float(np.mean(size[present])) if n_present else math.nan,
        "median_size": float(np.median(size[present])) if n_present else math.nan,
        "mean_size_per_landmark": mean_per_landmark,
        "median_size_per_landmark": median_per_landmark,
        "point_error": point_error,
        "spearman_rho": rho,
        "spearman_p": p_value,
        "spearman_rho_per_landmark": rho_per_landmark,
        "n_evaluated": n_present,
        "n_excluded": int((~present).sum()),
        "n_excluded_per_landmark": (~present).sum(axis=0),
        "whole_image_landmarks": list(whole_image_landmarks),
    }


def evaluate_regions(
    calibration: ConformalCalibration,
    probabilities: torch.Tensor,
    truth: torch.Tensor,
    spacing: torch.Tensor | np.ndarray,
    predicted: torch.Tensor | np.ndarray | None = None,
) -> dict[str, Any]:
    """Coverage, region size and error-size correlation on a test split held in memory.

    Args:
        calibration: From ``calibrate`` on a disjoint calibration split.
        probabilities: Spatial-softmax maps of the test split, (M, C, *spatial).
        truth: True points (M, C, d) in pixel indices of the map grid, NaN = missing.
        spacing: mm per map pixel per axis, (M, d) or (d,) for all cases.
        predicted: Predicted points (M, C, d) on the same grid, or None (no correlation).

    Returns:
        ``summarize_regions``'s dict, with ``point_error`` (mm, from the map grid) when
        ``predicted`` is given.

    Raises:
        ValueError: If shapes do not match, the spacing is not positive or the landmark
            count differs from the calibration.
    """
    pairs = region_pairs(calibration, probabilities, truth, spacing)
    ndim = probabilities.ndim - 2
    point_error = None
    if predicted is not None:
        truth_np = np.asarray(
            truth.detach().cpu().numpy() if isinstance(truth, torch.Tensor) else truth,
            dtype=np.float64,
        )
        predicted_np = np.asarray(
            predicted.detach().cpu().numpy() if isinstance(predicted, torch.Tensor) else predicted,
            dtype=np.float64,
        )
        if predicted_np.shape != truth_np.shape:
            raise ValueError(
                f"predicted must have shape {truth_np.shape} like truth; got "
                f"{predicted_np.shape}. Pass one predicted point per case and landmark."
            )
        map_spacing = _map_spacing(spacing, truth_np.shape[0], ndim)
        point_error = np.linalg.norm((predicted_np - truth_np) * map_spacing[:, None, :], axis=-1)
    return summarize_regions(
        pairs,
        alpha=calibration.alpha,
        ndim=ndim,
        whole_image_landmarks=calibration.whole_image_landmarks,
        point_error=point_error,
    )
