"""Statistics behind the tables, re-exported from :mod:`landmarkbench.evaluation.statistics`.

The implementations (per-image errors, the one bootstrap and its setting, paired tests) live
in :mod:`landmarkbench.evaluation.statistics`; this module keeps the names ``tables`` and
``leaderboard`` import from it.
"""

from __future__ import annotations

from landmarkbench.evaluation.statistics import (
    BOOTSTRAP_LEVEL,
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    SIGNIFICANCE_LEVEL,
    ImageErrors,
    average_over_seeds,
    bootstrap_ci,
    compare_with_best,
    is_significant,
    paired_difference_ci,
    paired_wilcoxon,
    ratio_bootstrap_ci,
)

__all__ = [
    "BOOTSTRAP_LEVEL",
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "SIGNIFICANCE_LEVEL",
    "ImageErrors",
    "average_over_seeds",
    "bootstrap_ci",
    "compare_with_best",
    "is_significant",
    "paired_difference_ci",
    "paired_wilcoxon",
    "ratio_bootstrap_ci",
]
