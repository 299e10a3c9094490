"""The one home of the result statistics: per-image errors, the bootstrap, paired tests.

Every number comes from stored per-fold prediction files; nothing is retrained. An image's
MRE is the mean point error over its landmarks (missing landmarks, NaN, excluded); the
pooled MRE of a set of images is the mean over all their valid (image, landmark) errors, so
an image weighs by its number of valid landmarks.

Bootstrap: ONE implementation (:func:`ratio_bootstrap_ci`) and ONE setting, the module
constants :data:`BOOTSTRAP_RESAMPLES`, :data:`BOOTSTRAP_SEED` and :data:`BOOTSTRAP_LEVEL`.
Images are the resampled unit (percentile interval of the pooled mean, seeded, so the same
errors always give the same interval). Every command that shows a confidence interval
(``table``, ``leaderboard``, ``regress``) uses these defaults unless the user asks otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
BOOTSTRAP_LEVEL = 0.95
SIGNIFICANCE_LEVEL = 0.05


@dataclass(frozen=True)
class ImageErrors:
    """Point errors of a set of images: (N, C) in mm, NaN for a missing landmark."""

    case_ids: tuple[str, ...]
    pe: np.ndarray

    @property
    def pooled_mre(self) -> float:
        """Mean over every valid (image, landmark) error (NaN when there is none)."""
        return float(np.nanmean(self.pe)) if np.isfinite(self.pe).any() else math.nan

    @property
    def median_error(self) -> float:
        """Median over every valid (image, landmark) error (NaN when there is none)."""
        return float(np.nanmedian(self.pe)) if np.isfinite(self.pe).any() else math.nan

    def per_image_counts(self) -> np.ndarray:
        """Number of valid landmarks of each image, shape (N,)."""
        return np.isfinite(self.pe).sum(axis=1)

    def per_image_sums(self) -> np.ndarray:
        """Sum of each image's valid errors, shape (N,)."""
        return np.where(np.isfinite(self.pe), self.pe, 0.0).sum(axis=1)

    def per_image_mre(self) -> dict[str, float]:
        """Each image's mean error over its valid landmarks (images with none left out)."""
        counts, sums = self.per_image_counts(), self.per_image_sums()
        return {
            case: float(s / n) for case, s, n in zip(self.case_ids, sums, counts, strict=True) if n
        }

    def per_image_landmarks(self) -> dict[str, int]:
        """Each image's number of valid landmarks (images with none left out)."""
        counts = self.per_image_counts()
        return {case: int(n) for case, n in zip(self.case_ids, counts, strict=True) if n}

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


def ratio_bootstrap_ci(
    sums: np.ndarray,
    counts: np.ndarray,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = BOOTSTRAP_LEVEL,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``sum(sums) / sum(counts)``, resampling items.

    This is the project's only bootstrap. An item is an image: ``sums`` holds the sum of
    its valid point errors (or ``count x`` a per-image difference), ``counts`` its number
    of valid landmarks, so the statistic is the pooled mean. Resamples that draw only
    images without valid landmarks are dropped.

    Args:
        sums: One sum per item.
        counts: One weight per item (landmark count).
        n_resamples: Number of resamples (0 gives NaNs).
        seed: Seed of the resampling (the same seed gives the same interval).
        level: Coverage of the interval, e.g. 0.95.

    Returns:
        (low, high); NaNs when there is no resample or no weight.
    """
    sums = np.asarray(sums, dtype=float)
    counts = np.asarray(counts, dtype=float)
    if n_resamples <= 0 or len(sums) == 0 or counts.sum() == 0:
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


def bootstrap_ci(
    errors: ImageErrors,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = BOOTSTRAP_LEVEL,
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
    return ratio_bootstrap_ci(
        errors.per_image_sums(), errors.per_image_counts(), n_resamples, seed, level
    )


def paired_difference_ci(
    current: ImageErrors,
    reference: ImageErrors,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = BOOTSTRAP_LEVEL,
) -> tuple[float, float]:
    """Bootstrap interval of pooled MRE(current) - pooled MRE(reference) on shared images.

    Images present in both (with valid landmarks) are resampled together; each weighs by
    the reference's landmark count.
    """
    cur, ref = current.per_image_mre(), reference.per_image_mre()
    weights = reference.per_image_landmarks()
    common = sorted(set(cur) & set(ref))
    diff = np.array([cur[c] - ref[c] for c in common])
    counts = np.array([weights[c] for c in common], dtype=float)
    return ratio_bootstrap_ci(diff * counts, counts, n_resamples, seed, level)


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
