"""Statistics behind the tables: per-image errors, bootstrap intervals and paired tests.

Every number here comes from the stored per-fold prediction files; nothing is retrained.
An image's MRE is the mean point error over its landmarks (missing landmarks excluded); the
pooled MRE of a set of images is the mean over all their (image, landmark) errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SIGNIFICANCE_LEVEL = 0.05


@dataclass(frozen=True)
class ImageErrors:
    """Point errors of a set of images: (N, C) in mm, NaN for a missing landmark."""

    case_ids: tuple[str, ...]
    pe: np.ndarray

    @property
    def pooled_mre(self) -> float:
        """Mean over every valid (image, landmark) error."""
        return float(np.nanmean(self.pe)) if np.isfinite(self.pe).any() else math.nan

    def per_image_mre(self) -> dict[str, float]:
        """Each image's mean error over its valid landmarks (images with none left out)."""
        valid = np.isfinite(self.pe)
        counts = valid.sum(axis=1)
        sums = np.where(valid, self.pe, 0.0).sum(axis=1)
        return {
            case: float(s / n) for case, s, n in zip(self.case_ids, sums, counts, strict=True) if n
        }

    def per_landmark_mre(self) -> np.ndarray:
        """Mean error of each landmark over the images, shape (C,)."""
        valid = np.isfinite(self.pe)
        counts = valid.sum(axis=0)
        sums = np.where(valid, self.pe, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def average_over_seeds(runs: Sequence[ImageErrors]) -> ImageErrors:
    """Errors of several seeds of one method, averaged per (image, landmark).

    Images are aligned by case id (all seeds share the split, so they have the same images);
    an image missing from a seed only averages the seeds that have it.
    """
    if len(runs) == 1:
        return runs[0]
    case_ids = tuple(dict.fromkeys(c for run in runs for c in run.case_ids))
    index = {c: i for i, c in enumerate(case_ids)}
    width = runs[0].pe.shape[1]
    sums = np.zeros((len(case_ids), width))
    counts = np.zeros((len(case_ids), width))
    for run in runs:
        rows = [index[c] for c in run.case_ids]
        valid = np.isfinite(run.pe)
        sums[rows] += np.where(valid, run.pe, 0.0)
        counts[rows] += valid
    with np.errstate(invalid="ignore", divide="ignore"):
        pe = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return ImageErrors(case_ids=case_ids, pe=pe)


def bootstrap_ci(
    errors: ImageErrors, n_resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the pooled MRE, resampling whole images.

    Args:
        errors: The images' point errors.
        n_resamples: Number of bootstrap resamples (0 gives NaNs).
        seed: Seed of the resampling (the same seed gives the same interval).
        level: Coverage of the interval.

    Returns:
        (low, high) in mm; NaNs when there are no valid errors or no resamples.
    """
    valid = np.isfinite(errors.pe)
    sums = np.where(valid, errors.pe, 0.0).sum(axis=1)
    counts = valid.sum(axis=1)
    if n_resamples <= 0 or counts.sum() == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sums), size=(n_resamples, len(sums)))
    picked_counts = counts[picks].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums[picks].sum(axis=1) / picked_counts
    means = means[picked_counts > 0]
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def paired_wilcoxon(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[float, int]:
    """Two-sided Wilcoxon signed-rank test of per-image MREs on the images both have.

    Returns:
        (p-value, number of common images). The p-value is NaN with fewer than two common
        images and 1.0 when every paired difference is zero.
    """
    from scipy.stats import wilcoxon

    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return math.nan, len(common)
    diff = np.array([a[c] - b[c] for c in common])
    if np.allclose(diff, 0.0):
        return 1.0, len(common)
    return float(wilcoxon(diff).pvalue), len(common)


def compare_with_best(
    per_image: Mapping[str, Mapping[str, float]], pooled: Mapping[str, float]
) -> tuple[str | None, dict[str, tuple[float, int]]]:
    """The method with the lowest pooled MRE and each other method's test against it.

    Args:
        per_image: Method label -> case id -> per-image MRE (methods of ONE split only).
        pooled: Method label -> pooled MRE.

    Returns:
        (best label or None, label -> (p-value, common images) for every other label).
    """
    finite = {k: v for k, v in pooled.items() if np.isfinite(v)}
    if not finite:
        return None, {}
    best = min(finite, key=finite.__getitem__)
    results = {
        label: paired_wilcoxon(values, per_image[best])
        for label, values in per_image.items()
        if label != best
    }
    return best, results


def is_significant(p_value: float) -> bool:
    """Whether a p-value is below the significance level (NaN is not)."""
    return bool(np.isfinite(p_value) and p_value < SIGNIFICANCE_LEVEL)
