"""Multi-instance point matching (e.g. endoscopy instruments, sutures): TP/FP/FN, F1 and PE.

Conventions (the single place they are stated):

- Per image and class, predictions (P, d) and truths (T, d) are matched ONE-TO-ONE by a
  greedy, closest-pairs-first rule: all pairs within the radius are sorted by distance (ties
  by prediction index, then truth index) and a pair is accepted when neither of its points is
  already matched. This is the usual challenge rule (Sharan et al. 2021, radius 6 px); it is
  not the optimal (Hungarian) assignment and can match fewer pairs than it.
- A pair is a candidate when its distance is ``<= radius`` (a distance equal to the radius
  matches). Distances are ``|| spacing * (pred - true) ||_2``: mm with a spacing, pixels
  without one (``unit`` in the outputs says which).
- An unmatched prediction is a false positive, an unmatched truth a false negative (a miss,
  never a zero error). PE statistics use matched pairs only.
- Rows holding a NaN are absent points (padding), not predictions or truths; the indices in
  the outputs refer to the rows as given.
- Ratios with a zero denominator are NaN: precision = TP / (TP + FP) is NaN without
  predictions, recall = TP / (TP + FN) is NaN without truths, F1 = 2 TP / (2 TP + FP + FN) is
  NaN only when there is neither (F1 is 0 when one side is empty and the other is not).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MATCH_OPERATOR = "<="


def match_instances(
    pred: np.ndarray,
    true: np.ndarray,
    radius: float,
    spacing: np.ndarray | Sequence[float] | None = None,
) -> dict[str, Any]:
    """Match the predicted and true instances of one class in one image.

    Args:
        pred: Predicted points, shape (P, d) in array-index order; P may be 0 (an empty array
            of shape (0,) or (0, d) is accepted). Rows with a NaN are ignored.
        true: True points, shape (T, d); T may be 0. Rows with a NaN are ignored.
        radius: Largest distance of a match (``<=``), in mm with ``spacing`` and in pixels
            without; ``math.inf`` matches without a gate.
        spacing: Millimetres per pixel along each axis, shape (d,); None for pixels.

    Returns:
        A dict of plain Python values::

            {"tp": int, "fp": int, "fn": int,
             "pred_index": [int, ...],   # matched rows of pred, closest pair first
             "true_index": [int, ...],   # the truth row matched to each of them
             "pe": [float, ...],         # distance of each matched pair
             "radius": float, "operator": "<=", "unit": "mm" or "px"}

    Raises:
        ValueError: If the shapes are not (P, d) and (T, d) with the same d, the radius is
            negative or NaN, or the spacing is not (d,) finite and positive.
    """
    pred_index, true_index, pe, n_pred, n_true = _match(pred, true, radius, spacing)
    tp = len(pe)
    return {
        "tp": tp,
        "fp": n_pred - tp,
        "fn": n_true - tp,
        "pred_index": pred_index.tolist(),
        "true_index": true_index.tolist(),
        "pe": pe.tolist(),
        "radius": float(radius),
        "operator": MATCH_OPERATOR,
        "unit": "px" if spacing is None else "mm",
    }


def match_batch(
    pred: Sequence[Mapping[str, np.ndarray]],
    true: Sequence[Mapping[str, np.ndarray]],
    radius: float,
    spacing: np.ndarray | Sequence[Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Match every class of every image and aggregate counts, F1 and matched-pair PE.

    Counts are summed over images (and classes for the overall numbers) before the ratios are
    taken (micro averaging). A class missing from an image's dict has no points there.

    Args:
        pred: One dict per image, class name -> predicted points (P, d).
        true: One dict per image, class name -> true points (T, d); same length as ``pred``.
        radius: Largest distance of a match (``<=``), mm with ``spacing``, pixels without.
        spacing: Millimetres per pixel: shape (d,) for all images, (N, d) (or a list of N
            (d,) spacings) for one per image, or None for pixels.

    Returns:
        A dict of plain Python values::

            {"tp": int, "fp": int, "fn": int,
             "precision": float, "recall": float, "f1": float,   # NaN on 0/0, see module doc
             "mean_pe": float, "median_pe": float,               # matched pairs; NaN if none
             "n_images": int, "radius": float, "operator": "<=", "unit": "mm" or "px",
             "per_class": {name: {"tp", "fp", "fn", "precision", "recall", "f1",
                                  "mean_pe", "median_pe"}, ...}}   # classes sorted by name

    Raises:
        ValueError: If ``pred`` and ``true`` differ in length, the spacing does not give one
            (d,) spacing per image, or :func:`match_instances` rejects an image's points.
    """
    if len(pred) != len(true):
        raise ValueError(
            f"Predictions and truths must list the same images; got {len(pred)} prediction "
            f"dicts and {len(true)} truth dicts. Pass one dict (class -> points) per image."
        )
    spacings = _per_image_spacing(spacing, len(true))
    counts: dict[str, np.ndarray] = {}  # class -> [tp, fp, fn]
    errors: dict[str, list[np.ndarray]] = {}
    for image_pred, image_true, image_spacing in zip(pred, true, spacings, strict=True):
        for name in set(image_pred) | set(image_true):
            _, _, pe, n_pred, n_true = _match(
                image_pred.get(name, _EMPTY), image_true.get(name, _EMPTY), radius, image_spacing
            )
            tp = len(pe)
            counts.setdefault(name, np.zeros(3, dtype=np.int64))
            counts[name] += (tp, n_pred - tp, n_true - tp)
            errors.setdefault(name, []).append(pe)
    total = sum(counts.values(), np.zeros(3, dtype=np.int64))
    all_pe = [pe for name in errors for pe in errors[name]]
    return _scores(total, all_pe) | {
        "n_images": len(true),
        "radius": float(radius),
        "operator": MATCH_OPERATOR,
        "unit": "px" if spacing is None else "mm",
        "per_class": {name: _scores(counts[name], errors[name]) for name in sorted(counts)},
    }


_EMPTY = np.zeros((0, 0))


def _match(
    pred: np.ndarray,
    true: np.ndarray,
    radius: float,
    spacing: np.ndarray | Sequence[float] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Greedy closest-first matching: (pred rows, true rows, distances, n pred, n true)."""
    if math.isnan(radius) or radius < 0:
        raise ValueError(
            f"Matching radius must be non-negative (math.inf for no gate); got {radius}. "
            "Pass the largest distance that counts as a detection, e.g. 6 px."
        )
    pred_pts, true_pts = _points(pred, "pred"), _points(true, "true")
    d = max(pred_pts.shape[1], true_pts.shape[1])
    if min(len(pred_pts), len(true_pts)) and pred_pts.shape[1] != true_pts.shape[1]:
        raise ValueError(
            f"Predicted and true points must have the same number of axes; got pred "
            f"{pred_pts.shape} and true {true_pts.shape}. Use array-index order for both."
        )
    scale = _spacing(spacing, d)
    pred_rows = np.flatnonzero(~np.isnan(pred_pts).any(axis=1))
    true_rows = np.flatnonzero(~np.isnan(true_pts).any(axis=1))
    empty = np.zeros(0, dtype=np.int64)
    if len(pred_rows) == 0 or len(true_rows) == 0:
        return empty, empty, np.zeros(0), len(pred_rows), len(true_rows)
    diff = pred_pts[pred_rows, None, :] - true_pts[None, true_rows, :]
    dist = np.sqrt(np.sum((diff * scale) ** 2, axis=-1))  # (P, T)
    p_idx, t_idx = np.nonzero(dist <= radius)  # row-major: pred index, then truth index
    # A stable sort by distance keeps the (pred, truth) index order among equal distances.
    order = np.argsort(dist[p_idx, t_idx], kind="stable")
    pred_used = np.zeros(len(pred_rows), dtype=bool)
    true_used = np.zeros(len(true_rows), dtype=bool)
    chosen: list[int] = []
    limit = min(len(pred_rows), len(true_rows))
    for k in order:  # inherently sequential; at most P * T candidates, stops when one side is full
        i, j = p_idx[k], t_idx[k]
        if not (pred_used[i] or true_used[j]):
            pred_used[i] = true_used[j] = True
            chosen.append(k)
            if len(chosen) == limit:
                break
    pick = np.asarray(chosen, dtype=np.int64)
    return (
        pred_rows[p_idx[pick]],
        true_rows[t_idx[pick]],
        dist[p_idx[pick], t_idx[pick]],
        len(pred_rows),
        len(true_rows),
    )


def _points(points: np.ndarray, name: str) -> np.ndarray:
    """Points as float64 (K, d); an empty input of any shape with no elements gives (0, 0)."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, arr.shape[-1] if arr.ndim == 2 else 0)
    if arr.ndim != 2:
        raise ValueError(
            f"Points of one class in one image must have shape (K, d); got {name} with shape "
            f"{arr.shape}. Stack the instances of the class along the first axis."
        )
    return arr


def _spacing(spacing: np.ndarray | Sequence[float] | None, d: int) -> np.ndarray:
    """Spacing as a float64 (d,) array; ones (pixels) when absent."""
    if spacing is None:
        return np.ones(d)
    scale = np.asarray(spacing, dtype=np.float64)
    # d is 0 when both sides are empty: any spacing length is then acceptable.
    bad_shape = scale.ndim != 1 or (d > 0 and scale.shape != (d,))
    if bad_shape or not np.all(np.isfinite(scale) & (scale > 0)):
        raise ValueError(
            f"Spacing must be {d or 'd'} finite positive values (mm per pixel per axis); got "
            f"{scale.tolist()}. Pass None to measure in pixels."
        )
    return scale


def _per_image_spacing(
    spacing: np.ndarray | Sequence[Sequence[float]] | None, n_images: int
) -> list[np.ndarray | None]:
    """One spacing (or None) per image from a shared (d,) or per-image (N, d) spacing."""
    if spacing is None:
        return [None] * n_images
    scale = np.asarray(spacing, dtype=np.float64)
    if scale.ndim == 1:
        return [scale] * n_images
    if scale.ndim != 2 or len(scale) != n_images:
        raise ValueError(
            f"Spacing must have shape (d,) or ({n_images}, d) for {n_images} images; got "
            f"{scale.shape}. Pass one spacing per image or one for all."
        )
    return list(scale)


def _scores(counts: np.ndarray, errors: list[np.ndarray]) -> dict[str, Any]:
    """Counts, micro precision/recall/F1 (NaN on 0/0) and matched-pair PE mean/median."""
    tp, fp, fn = (int(c) for c in counts)
    pe = np.concatenate(errors) if errors else np.zeros(0)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "mean_pe": float(pe.mean()) if pe.size else math.nan,
        "median_pe": float(np.median(pe)) if pe.size else math.nan,
    }


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan
