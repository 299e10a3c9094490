"""Localization metrics in millimetres: point error, SDR and summaries (numpy only).

Conventions (the single place they are stated):

- Point error (PE) of one (image, landmark) pair is ``|| spacing * (pred - true) ||_2`` in mm,
  computed on the ORIGINAL image grid (map network-grid predictions back first).
- A missing landmark (NaN in the truth or the prediction) has PE NaN. It is excluded from every
  statistic and counted in ``n_missing``; it is never a hit or a miss of the SDR. Infinite
  coordinates and negative or infinite PEs are errors, not missing values.
- ``std`` is the POPULATION standard deviation (ddof = 0).
- SDR values are percentages in [0, 100]; the comparison operator (``"<="`` or ``"<"``) is
  explicit and recorded in the summary. :func:`sdr` (table radii) and :func:`sdr_curve`
  (plots, leaderboard) are the only SDR code and count identically.
- Summary SDR keys are strings made by :func:`radius_key` (``2`` -> ``"2.0"``) so that the
  summary is JSON friendly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_COMPARISONS = {"<=": np.less_equal, "<": np.less}
SDR_OPERATORS = tuple(_COMPARISONS)
AGGREGATIONS = ("pooled", "per_image")


def point_error_mm(pred: np.ndarray, true: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Euclidean point error in millimetres for every (image, landmark) pair.

    Args:
        pred: Predicted landmarks, shape (N, C, d), array-index order, original grid.
        true: True landmarks, same shape as ``pred``; NaN marks a missing landmark.
        spacing: Millimetres per pixel along each array axis, shape (N, d) or (d,).

    Returns:
        Array of shape (N, C) (float64): PE in mm, NaN where ``true`` or ``pred`` is NaN.

    Raises:
        ValueError: If the shapes disagree, a coordinate is infinite, or a spacing is not
            finite and positive.
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    spacing = np.asarray(spacing, dtype=np.float64)
    if true.ndim != 3:
        raise ValueError(
            f"Landmarks must have shape (N, C, d); got true with shape {true.shape}. "
            "Stack the per-image (C, d) arrays along a new first axis."
        )
    if pred.shape != true.shape:
        raise ValueError(
            f"Predictions and truths must have the same shape (N, C, d); got pred "
            f"{pred.shape} and true {true.shape}. Predict every landmark of every image."
        )
    n, _, d = true.shape
    if spacing.shape not in ((d,), (n, d)):
        raise ValueError(
            f"Spacing must have shape ({d},) or ({n}, {d}) for landmarks of shape "
            f"{true.shape}; got {spacing.shape}. Pass one spacing per image and array axis."
        )
    if not np.all(np.isfinite(spacing) & (spacing > 0)):
        raise ValueError(
            f"Spacing must be finite and positive (mm per pixel); got {spacing.tolist()}. "
            "Check the dataset's spacing rule."
        )
    for name, points in (("pred", pred), ("true", true)):
        if np.isinf(points).any():
            raise ValueError(
                f"Landmark coordinates must be finite or NaN (missing); {name} holds "
                f"{int(np.isinf(points).sum())} infinite values. Mark a failed or missing "
                "landmark as NaN."
            )
    diff = pred - true
    diff *= diff
    # sum_k (s_k * delta_k)^2 as a batched mat-vec with s^2: one pass instead of a broadcast
    # multiply and a reduction over a length-d axis (several times faster for 10^5 points).
    if spacing.ndim == 1:
        squared = diff @ (spacing * spacing)
    else:
        squared = np.matmul(diff, (spacing * spacing)[:, :, None])[..., 0]
    return np.sqrt(squared)


def radius_key(radius_mm: float) -> str:
    """The JSON key of an SDR radius in summaries: ``str(float(radius))``, e.g. ``"2.5"``."""
    return str(float(radius_mm))


def sdr(pe: np.ndarray, radii_mm: Sequence[float], operator: str = "<=") -> dict[float, float]:
    """Successful detection rate: percentage of non-missing PEs within each radius.

    Args:
        pe: Point errors in mm of any shape; NaN entries are missing and ignored.
        radii_mm: Radii in mm.
        operator: ``"<="`` (PE equal to the radius is a hit) or ``"<"`` (it is a miss).

    Returns:
        ``{float(radius): percentage}`` as Python floats in [0, 100]; NaN for every radius
        when no PE is valid.

    Raises:
        ValueError: If ``operator`` is not ``"<="`` or ``"<"``, a radius is negative or not
            finite, or a PE is negative or infinite.
    """
    _check_operator(operator)
    values = _checked_pe(pe).reshape(-1)
    n = values.size - int(np.count_nonzero(np.isnan(values)))
    radii = _checked_radii(radii_mm)
    compare = _COMPARISONS[operator]
    # One flat count per radius (NaN compares False, so it is never a hit): faster than a
    # (radii, points) broadcast for the handful of radii used in practice.
    return {
        float(r): (100.0 * np.count_nonzero(compare(values, r)) / n if n else math.nan)
        for r in radii
    }


@dataclass(frozen=True)
class SdrCurve:
    """SDR against radius: the one curve behind plots and the leaderboard.

    Attributes:
        radii_mm: Radii in mm, shape (K,).
        percent: SDR in % at each radius (NaN everywhere when no PE is valid), shape (K,).
        operator: ``"<="`` or ``"<"``.
        n_valid: PEs that count (hits or misses).
        n_missing: Missing PEs (NaN), neither hits nor misses.
    """

    radii_mm: np.ndarray
    percent: np.ndarray
    operator: str
    n_valid: int
    n_missing: int

    def at(self, radius_mm: float) -> float:
        """The SDR at one of the curve's radii (exact match).

        Raises:
            KeyError: if ``radius_mm`` is not one of the curve's radii.
        """
        hits = np.flatnonzero(self.radii_mm == float(radius_mm))
        if not hits.size:
            raise KeyError(radius_mm)
        return float(self.percent[hits[0]])

    def missing_note(self) -> str:
        """``"k of n landmarks missing (neither hit nor miss)"``, or ``""`` when none is."""
        if not self.n_missing:
            return ""
        total = self.n_valid + self.n_missing
        return f"{self.n_missing} of {total} landmarks missing (neither hit nor miss)"


def sdr_curve(
    pe: np.ndarray,
    radii_mm: Sequence[float],
    operator: str = "<=",
    aggregation: str = "pooled",
) -> SdrCurve:
    """The SDR at many radii, counted exactly as :func:`summarize` counts its SDR.

    Missing PEs (NaN) are neither hits nor misses: the percentage is over valid PEs only,
    and the number missing is returned beside it. With ``"per_image"`` the curve is the
    mean over images (with a valid PE) of each image's SDR, as in :func:`summarize`.

    Args:
        pe: Point errors in mm; NaN entries are missing. Shape (N, C) for ``"per_image"``,
            any shape for ``"pooled"``.
        radii_mm: Radii in mm (kept in the given order).
        operator: ``"<="`` or ``"<"``.
        aggregation: ``"pooled"`` or ``"per_image"``.

    Returns:
        An :class:`SdrCurve`: ``curve.at(r)`` equals ``summarize(pe, [r], operator,
        aggregation)["sdr"][radius_key(r)]`` (and ``sdr(pe, [r], operator)[r]`` when pooled).

    Raises:
        ValueError: as :func:`summarize`.
    """
    _check_operator(operator)
    if aggregation not in AGGREGATIONS:
        raise ValueError(
            f"Aggregation must be one of {', '.join(AGGREGATIONS)}; got {aggregation!r}. "
            "Use 'pooled' for all (image, landmark) pairs or 'per_image' for image means."
        )
    values = _checked_pe(pe)
    radii = _checked_radii(radii_mm)
    n_missing = int(np.count_nonzero(np.isnan(values)))
    n = int(values.size - n_missing)
    if aggregation == "per_image":
        if values.ndim != 2:
            raise ValueError(
                f"Per-image SDR needs point errors of shape (N images, C landmarks); got "
                f"{values.shape}. Pass the output of point_error_mm."
            )
        valid = ~np.isnan(values)
        keep = valid.sum(axis=1) > 0
        # The very computation of summarize's per-image SDR, so both agree to the bit.
        image_rates = _hit_rates(values, valid, radii, operator, axis=1)[:, keep]
        percent = image_rates.sum(axis=1) / max(int(keep.sum()), 1)
    else:
        ordered = np.sort(values.reshape(-1)[~np.isnan(values.reshape(-1))])
        # searchsorted 'right' counts values <= r, 'left' values < r: the integer counts of
        # sdr()'s comparisons, divided the same way, so both give identical floats.
        counts = np.searchsorted(ordered, radii, side="right" if operator == "<=" else "left")
        percent = np.array([100.0 * int(c) / n for c in counts]) if n else np.zeros(radii.shape)
    if not n:
        percent = np.full(radii.shape, math.nan)
    return SdrCurve(radii, np.asarray(percent, dtype=np.float64), operator, n, n_missing)


def summarize(
    pe: np.ndarray,
    radii_mm: Sequence[float],
    operator: str = "<=",
    aggregation: str = "pooled",
) -> dict[str, Any]:
    """Summary statistics of a PE table, overall and per landmark, JSON friendly.

    With ``aggregation="pooled"`` every valid (image, landmark) pair counts once. With
    ``"per_image"`` the unit is the image: each image's valid PEs give a per-image mean PE and
    per-image SDR; ``mre``/``median``/``std`` are the mean/median/population std of the
    per-image mean PEs and ``sdr`` is the mean of the per-image SDRs; images without a valid
    landmark are skipped. Per-landmark numbers are computed per column and do not depend on
    ``aggregation`` (each image contributes one PE per landmark).

    Args:
        pe: Point errors in mm, shape (N, C); NaN marks a missing pair.
        radii_mm: SDR radii in mm.
        operator: SDR comparison, ``"<="`` or ``"<"``.
        aggregation: ``"pooled"`` or ``"per_image"``.

    Returns:
        A dict of plain Python values::

            {"mre": float, "median": float, "std": float,   # mm, population std
             "sdr": {"2.0": float, ...},                    # % per radius_key(radius)
             "n_points": int, "n_missing": int, "n_images": int,
             "operator": "<=", "aggregation": "pooled", "std_ddof": 0,
             "radii_mm": [2.0, ...],
             "per_landmark": [{"mre", "median", "std", "sdr": {...}, "n": int,
                               "n_missing": int}, ...]}

        ``n_images`` counts images with at least one valid PE. When nothing is valid the
        statistics are NaN, ``n_points`` is 0, and no warning is emitted.

    Raises:
        ValueError: If ``pe`` is not 2D, holds negative or infinite values, a radius is
            negative or not finite, or ``operator``/``aggregation`` is unknown.
    """
    _check_operator(operator)
    if aggregation not in AGGREGATIONS:
        raise ValueError(
            f"Aggregation must be one of {', '.join(AGGREGATIONS)}; got {aggregation!r}. "
            "Use 'pooled' for all (image, landmark) pairs or 'per_image' for image means."
        )
    pe = _checked_pe(pe)
    if pe.ndim != 2:
        raise ValueError(
            f"Point errors must have shape (N images, C landmarks); got shape {pe.shape}. "
            "Pass the output of point_error_mm."
        )
    radii = _checked_radii(radii_mm)
    valid = ~np.isnan(pe)
    per_image_n = valid.sum(axis=1)
    if aggregation == "pooled":
        overall = _column_summaries(pe.reshape(-1, 1), radii, operator)[0]
    else:
        overall = _per_image_summary(pe, valid, per_image_n, radii, operator)
    return {
        "mre": overall["mre"],
        "median": overall["median"],
        "std": overall["std"],
        "sdr": overall["sdr"],
        "n_points": int(valid.sum()),
        "n_missing": int((~valid).sum()),
        "n_images": int((per_image_n > 0).sum()),
        "operator": operator,
        "aggregation": aggregation,
        "std_ddof": 0,
        "radii_mm": [float(r) for r in radii],
        "per_landmark": _column_summaries(pe, radii, operator),
    }


def _check_operator(operator: str) -> None:
    if operator not in SDR_OPERATORS:
        raise ValueError(
            f"SDR operator must be '<=' or '<'; got {operator!r}. Use '<=' to count a PE "
            "equal to the radius as a hit, '<' to count it as a miss."
        )


def _checked_radii(radii_mm: Sequence[float] | float) -> np.ndarray:
    """Radii as a flat float64 array, each finite and non-negative."""
    radii = np.asarray(radii_mm, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(radii) & (radii >= 0)):
        raise ValueError(
            f"SDR radii must be finite and non-negative (mm); got {radii.tolist()}. "
            "Pass radii such as [2.0, 2.5, 3.0, 4.0]."
        )
    return radii


def _checked_pe(pe: np.ndarray) -> np.ndarray:
    """Point errors as float64; NaN (missing) is allowed, negative or infinite values are not."""
    values = np.asarray(pe, dtype=np.float64)
    bad = np.isinf(values) | (values < 0)
    if bad.any():
        raise ValueError(
            f"Point errors must be non-negative and finite, or NaN for a missing landmark; "
            f"got {int(bad.sum())} negative or infinite values. Pass the output of "
            "point_error_mm."
        )
    return values


def _hit_rates(
    values: np.ndarray, valid: np.ndarray, radii: np.ndarray, operator: str, axis: int
) -> np.ndarray:
    """Percentage of valid values within each radius along ``axis``; radii lead the result.

    Returns 0 (not NaN) where nothing is valid; callers mask those entries.
    """
    radii = radii.reshape((-1,) + (1,) * values.ndim)
    # A comparison with NaN is False, so missing entries are never hits: no mask needed.
    within = _COMPARISONS[operator](np.expand_dims(values, 0), radii)
    hits = np.count_nonzero(within, axis=axis + 1)
    n = np.count_nonzero(valid, axis=axis)
    return 100.0 * hits / np.maximum(n, 1)


def _masked_stats(values: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, median, population std and count of valid entries per column (axis 0).

    Columns without a valid entry get NaN statistics (computed without warnings).
    """
    if values.shape[0] == 0:
        values = np.full((1, values.shape[1]), np.nan)
        valid = np.zeros(values.shape, dtype=bool)
    n = valid.sum(axis=0)
    safe_n = np.maximum(n, 1)
    mean = np.where(valid, values, 0.0).sum(axis=0) / safe_n
    var = np.where(valid, (values - mean) ** 2, 0.0).sum(axis=0) / safe_n
    # Invalid entries become +inf and sort last: the valid ones are the first n sorted rows.
    ordered = np.sort(np.where(valid, values, np.inf), axis=0)
    lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[None], axis=0)[0]
    hi = np.take_along_axis(ordered, (n // 2).clip(max=len(values) - 1)[None], axis=0)[0]
    empty = n == 0
    return {
        "mre": np.where(empty, np.nan, mean),
        "median": np.where(empty, np.nan, 0.5 * (lo + hi)),
        "std": np.where(empty, np.nan, np.sqrt(var)),
        "n": n,
    }


def _column_summaries(pe: np.ndarray, radii: np.ndarray, operator: str) -> list[dict[str, Any]]:
    """One summary dict per column of ``pe`` (shape (rows, columns)), with its count ``n``."""
    valid = ~np.isnan(pe)
    stats = _masked_stats(pe, valid)
    rates = _hit_rates(pe, valid, radii, operator, axis=0)  # (R, columns)
    return [
        _stat_dict(stats, rates, radii, column)
        | {"n": int(stats["n"][column]), "n_missing": int(pe.shape[0] - stats["n"][column])}
        for column in range(pe.shape[1])
    ]


def _per_image_summary(
    pe: np.ndarray, valid: np.ndarray, per_image_n: np.ndarray, radii: np.ndarray, operator: str
) -> dict[str, Any]:
    """Statistics of per-image mean PEs and mean of per-image SDRs (images with data only)."""
    keep = per_image_n > 0
    image_means = np.where(valid, pe, 0.0).sum(axis=1) / np.maximum(per_image_n, 1)
    means = image_means[keep][:, None]
    stats = _masked_stats(means, np.ones(means.shape, dtype=bool))
    image_rates = _hit_rates(pe, valid, radii, operator, axis=1)[:, keep]  # (R, images kept)
    rates = image_rates.sum(axis=1, keepdims=True) / max(int(keep.sum()), 1)
    return _stat_dict(stats, rates, radii, 0)


def _stat_dict(
    stats: dict[str, np.ndarray], rates: np.ndarray, radii: np.ndarray, column: int
) -> dict[str, Any]:
    """Plain-float mre/median/std/sdr of one column; SDR is NaN where the column is empty."""
    empty = stats["n"][column] == 0
    return {
        "mre": float(stats["mre"][column]),
        "median": float(stats["median"][column]),
        "std": float(stats["std"][column]),
        "sdr": {
            radius_key(r): (math.nan if empty else float(rates[i, column]))
            for i, r in enumerate(radii)
        },
    }
